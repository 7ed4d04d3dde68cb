#!/usr/bin/env python3
"""Regenerates the Looker example results (users.json, events.json) deterministically.

Each file is what Looker's "JSON - Detail" (json_detail) download or scheduled delivery holds:
query metadata, `fields` with each field's LookML tags, then `data` rows of cells
{value, rendered, links}. The files are committed; this script exists to rebuild or grow them.
Run: python3 examples/looker/make_looker_examples.py [--users N] [--out DIR]
(the benchmark uses --users 2000000 --out /tmp to make a large result).
"""
import argparse, json, os, random
from datetime import datetime, timedelta, timezone

here = os.path.dirname(os.path.abspath(__file__))
first_names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Linus", "Frances", "John"]
last_names = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman", "Torvalds", "Allen", "Backus"]
states = ["California", "New York", "Texas", "Washington", "Oregon", "Illinois", "Florida", "Colorado"]
start = datetime(2026, 10, 1, tzinfo=timezone.utc)


def field(name, label, kind, tags, measure=False, numeric=False):
    view = name.split(".")[0]
    return {"name": name, "label": label, "label_short": label.split(" ", 1)[-1], "view": view,
            "view_label": view.title(), "type": kind, "measure": measure, "is_numeric": numeric,
            "tags": tags, "hidden": False, "sortable": True, "value_format": None}


def table_calculation(name, label, expression):
    return {"name": name, "label": label, "expression": expression, "can_pivot": True, "sortable": True,
            "value_format": None, "is_numeric": True}


def cell(value, rendered=None, drill=None):
    out = {"value": value, "rendered": rendered if rendered is not None else ("∅" if value is None else str(value))}
    if drill:
        out["links"] = [{"label": "Show All", "url": drill, "type": "measure_default"}]
    return out


def header(explore, sql):
    return {"status": "complete", "from_cache": False, "id": "%032x" % random.Random(explore).getrandbits(128),
            "result_source": "query", "supports_pivot_in_db": True, "null_sort_treatment": "low",
            "expired": False, "ran_at": "2026-11-22T06:00:04+00:00", "runtime": "1.284",
            "added_params": {"sorts": []}, "sql": sql}


def write(path, head, fields, rows):
    # Written as Looker writes it: metadata, fields, then data, then trailing metadata.
    with open(path, "w") as out:
        document = dict(head)
        document["fields"] = fields
        document["has_totals"] = False
        document["timezone"] = "UTC"
        text = json.dumps(document, indent=2, ensure_ascii=False)
        out.write(text[:-2] + ',\n  "data": [\n')
        for n, row in enumerate(rows):
            out.write(("    " if n == 0 else ",\n    ") + json.dumps(row, ensure_ascii=False))
        out.write('\n  ],\n  "drill_menu_build_time": 0.031\n}\n')


def users(count, path):
    rng = random.Random(20261122)
    fields = {
        "measures": [
            field("orders.count", "Orders Count", "count_distinct", [], measure=True, numeric=True),
            field("orders.total_revenue", "Orders Total Revenue", "sum", ["mp_user_attribute"], measure=True, numeric=True),
        ],
        "dimensions": [
            field("users.id", "Users ID", "number", ["mp_customer_id"], numeric=True),
            field("users.email", "Users Email", "string", ["pii", "mp_email"]),
            field("users.first_name", "Users First Name", "string", ["mp_user_attribute"]),
            field("users.state", "Users State", "string", ["mp_user_attribute"]),
            field("users.is_vip", "Users Is VIP (Yes / No)", "yesno", ["mp_user_attribute"]),
            field("users.created_date", "Users Created Date", "date_date", []),
        ],
        "table_calculations": [
            table_calculation("revenue_per_order", "Revenue per Order", "${orders.total_revenue} / ${orders.count}"),
        ],
        "pivots": [],
    }
    rows = []
    for i in range(1, count + 1):
        first, last = rng.choice(first_names), rng.choice(last_names)
        orders = rng.randrange(1, 40)
        revenue = round(orders * rng.uniform(8, 120), 2)
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        user_id = 10000 + i
        if i == 42:
            # A user Looker knows by nothing: the action would send it; here it is rejected.
            user_id, email = None, None
        drill = f"/explore/ecommerce/orders?fields=orders.id&f[users.id]={user_id}"
        rows.append({
            "orders.count": cell(orders, drill=drill),
            "orders.total_revenue": cell(revenue, f"${revenue:,.2f}"),
            "users.id": cell(user_id),
            "users.email": cell(email),
            "users.first_name": cell(first),
            "users.state": cell(rng.choice(states)),
            "users.is_vip": cell("Yes" if revenue > 2500 else "No"),
            "users.created_date": cell((start - timedelta(days=rng.randrange(900))).strftime("%Y-%m-%d")),
            "revenue_per_order": cell(round(revenue / orders, 4), f"{revenue / orders:.2f}"),
        })
    write(path, header("users", "SELECT users.id, users.email, ... FROM users LEFT JOIN orders ... GROUP BY 1,2,3,4,5,6"), fields, rows)


def events(count, path):
    rng = random.Random(20261123)
    fields = {
        "measures": [],
        "dimensions": [
            field("users.id", "Users ID", "number", ["mp_customer_id"], numeric=True),
            field("users.email", "Users Email", "string", ["mp_email"]),
            field("events.id", "Events ID", "number", ["mp_event_id"], numeric=True),
            field("events.event_type", "Events Event Type", "string", ["mp_event_name"]),
            field("events.category", "Events Category", "string", ["mp_custom_event_type"]),
            field("events.created_time", "Events Created Time", "date_time", ["mp_timestamp_unixtime_ms"]),
            field("events.session_uuid", "Events Session UUID", "string", ["mp_session_uuid"]),
            field("events.browser", "Events Browser", "string", ["mp_custom_attribute"]),
            field("events.traffic_source", "Events Traffic Source", "string", ["mp_custom_attribute"]),
            field("devices.platform", "Devices Platform", "string", ["mp_device_info"]),
            field("devices.os_version", "Devices OS Version", "string", ["mp_device_info"]),
            field("users.state", "Users State", "string", ["mp_user_attribute"]),
            field("events.uri", "Events URI", "string", []),
        ],
        "table_calculations": [],
        "pivots": [],
    }
    names = [("Product Viewed", "navigation"), ("Search", "search"), ("Added to Cart", "transaction"),
             ("Purchase", "transaction"), ("Review Posted", "user_content")]
    rows = []
    t = start
    for i in range(1, count + 1):
        t += timedelta(seconds=rng.randrange(5, 900))
        user = rng.randrange(1, 60)
        name, category = rng.choice(names)
        platform = rng.choice(["iOS", "Android", "web"])
        rows.append({
            "users.id": cell(10000 + user),
            "users.email": cell(f"user{user}@example.com"),
            "events.id": cell(500000 + i),
            "events.event_type": cell(name),
            "events.category": cell(category),
            "events.created_time": cell(t.strftime("%Y-%m-%d %H:%M:%S")),
            "events.session_uuid": cell("%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),
                                        rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48))),
            "events.browser": cell(rng.choice(["Chrome", "Safari", "Firefox"]) if platform == "web" else None),
            "events.traffic_source": cell(rng.choice(["Search", "Email", "Display", "Organic"])),
            "devices.platform": cell(platform),
            "devices.os_version": cell({"iOS": "18.1", "Android": "15", "web": None}[platform]),
            "users.state": cell(rng.choice(states)),
            "events.uri": cell(f"/product/{rng.randrange(1, 500)}"),
        })
    write(path, header("events", "SELECT users.id, users.email, events.id, ... FROM events JOIN users ..."), fields, rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=250)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--out", default=here)
    args = parser.parse_args()
    users(args.users, os.path.join(args.out, "users.json"))
    events(args.events, os.path.join(args.out, "events.json"))
