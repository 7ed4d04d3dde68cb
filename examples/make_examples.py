#!/usr/bin/env python3
"""Regenerates the example data (examples/shop.db and examples/events.csv) deterministically.

The files are committed, so a fresh clone runs the example jobs without this script; it exists so
the data can be rebuilt or grown. Run: python3 examples/make_examples.py
"""
import csv, os, random, sqlite3
from datetime import datetime, timedelta, timezone

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261122)
first_names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia", "Linus", "Frances", "John"]
last_names = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Perlman", "Torvalds", "Allen", "Backus"]
plans = ["free", "starter", "pro", "enterprise"]
countries = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "AU"]
start = datetime(2026, 10, 1, tzinfo=timezone.utc)

def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

db_path = os.path.join(here, "shop.db")
if os.path.exists(db_path):
    os.remove(db_path)
db = sqlite3.connect(db_path)
db.executescript("""
CREATE TABLE users (
    customer_id TEXT,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    plan TEXT,
    ltv REAL,
    country TEXT,
    newsletter INTEGER,
    signup_date TEXT,
    updated_at TEXT
);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    total REAL NOT NULL,
    placed_at TEXT NOT NULL
);
""")
rows = []
for i in range(1, 201):
    first, last = rng.choice(first_names), rng.choice(last_names)
    updated = start + timedelta(hours=i * 3, minutes=rng.randrange(60))
    rows.append((f"C{i:05d}", f"{first.lower()}.{last.lower()}{i}@example.com", first, last, rng.choice(plans),
                 round(rng.uniform(0, 5000), 2), rng.choice(countries), rng.randrange(2),
                 (start - timedelta(days=rng.randrange(900))).strftime("%Y-%m-%d"), iso(updated)))
# Rows that show what a rejected row looks like: no identity at all.
rows[41] = (None, "", "Nobody", "Known", "free", 0.0, "US", 0, "2026-01-05", rows[41][9])
# Three rows sharing one updated_at: ties at the iterator value.
for k in (120, 121, 122):
    rows[k] = rows[k][:9] + (rows[119][9],)
db.executemany("INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
orders = []
for n in range(1, 401):
    customer = f"C{rng.randrange(1, 201):05d}"
    orders.append((n, customer, round(rng.uniform(5, 400), 2), iso(start + timedelta(hours=n * 1.5))))
db.executemany("INSERT INTO orders VALUES (?,?,?,?)", orders)
db.commit()
db.execute("VACUUM")
db.close()

events = ["Product Viewed", "Added to Cart", "Checkout Started", "Order Completed", "Search"]
platforms = ["iOS", "Android", "web"]
with open(os.path.join(here, "events.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["event_id", "customer_id", "email", "event_name", "occurred_at", "platform", "os_version", "app_version",
                "product_sku", "price", "search_query"])
    for n in range(1, 301):
        t = start + timedelta(minutes=n * 37)
        name = rng.choice(events)
        platform = rng.choice(platforms)
        sku = f"SKU-{rng.randrange(100, 999)}" if name != "Search" else ""
        price = f"{rng.uniform(5, 300):.2f}" if sku else ""
        query = rng.choice(["running shoes", "rain jacket", "socks, wool", "\"waterproof\" boots"]) if name == "Search" else ""
        customer = f"C{rng.randrange(1, 201):05d}"
        w.writerow([f"E{n:06d}", customer, f"{customer.lower()}@example.com", name, iso(t), platform,
                    rng.choice(["17.1", "14", "126.0"]), rng.choice(["3.2.0", "3.3.1"]), sku, price, query])
    # A row whose timestamp does not parse: rejected with its reason.
    w.writerow(["E999999", "C00001", "c00001@example.com", "Search", "yesterday", "web", "", "3.3.1", "", "", "boots"])
print("wrote", db_path, "and events.csv")
