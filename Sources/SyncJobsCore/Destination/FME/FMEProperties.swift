/// The `properties` of the FME events made from one mParticle event (reference §3.2, keys per
/// §3.3 item 3).
///
/// UNCONFIRMED (§3.3 item 3): FME publishes only "prepended with *product*" and "prepended with
/// *attribute*", not the separator or the spelling of the other keys. Runner choice: the
/// snake_case names of the mParticle JSON and `.` before a nested name. The keys, in this order,
/// each written only when the event has the field (a null is no field):
///
/// | key | from `data.` | events |
/// |---|---|---|
/// | `session_id` | `session_id` | all |
/// | `source_message_id` | `source_message_id`: the "source message id" of custom and commerce events and the "source id" of session and screen events | all |
/// | `event_id` | the event's id, the same text as `foreignId` (§3.3 item 4) | all |
/// | `location.latitude`, `location.longitude`, `location.accuracy` | `location.…` | all |
/// | `session_length_ms` | `session_duration_ms` | session_end |
/// | `screen_name` | `screen_name` | screen_view |
/// | `action`, `transaction_id`, `total_amount`, `tax_amount`, `shipping_amount` | `product_action.…` | commerce |
/// | `currency_code` | `currency_code` | commerce |
/// | `affiliation` | `product_action.affiliation` | commerce |
/// | `product.id`, `.name`, `.brand`, `.category`, `.variant`, `.position`, `.price`, `.quantity`, `.coupon_code` | the product's field of that name | commerce, one event per product |
/// | `product.total_amount` | the product's `total_product_amount` | commerce, one event per product |
/// | `attribute.<name>` | each of `custom_attributes`, in order, the name as it is (spaces included) | all |
///
/// Each event type gets the fields FME's table for it lists: `screen_name` only on screen views
/// (commerce events may carry one, which FME's commerce table does not list), the product action
/// only on commerce events. `event_id` sits with the other ids; where is UNCONFIRMED as the
/// property itself is. Values stay the scalars they are (a 64-bit `session_id` stays a number);
/// a list or object becomes its JSON text, as FME's Segment integration stringifies nested traits.
/// A commerce event whose product action has no products gives one event without product keys.
struct FMEProperties {
    /// Everything before the product's fields.
    var leading: [(String, Value)] = []
    /// One entry per FME event of the fan-out: the product's fields, or one empty entry.
    var perProduct: [[(String, Value)]] = [[]]
    /// The custom attributes, last.
    var attributes: [(String, Value)] = []

    static let productActionFields = ["action", "transaction_id", "total_amount", "tax_amount", "shipping_amount"]
    static let productFields: [(key: String, field: String)] = [
        ("product.id", "id"), ("product.name", "name"), ("product.brand", "brand"), ("product.category", "category"),
        ("product.variant", "variant"), ("product.position", "position"), ("product.price", "price"),
        ("product.quantity", "quantity"), ("product.coupon_code", "coupon_code"), ("product.total_amount", "total_product_amount"),
    ]

    init(type: String, data: Value, eventID: String?) {
        Self.put("session_id", data["session_id"], into: &leading)
        Self.put("source_message_id", data["source_message_id"], into: &leading)
        Self.put("event_id", eventID.map(Value.string), into: &leading)
        if let location = data["location"] {
            for field in ["latitude", "longitude", "accuracy"] {
                Self.put("location.\(field)", location[field], into: &leading)
            }
        }
        switch type {
        case "session_end":
            Self.put("session_length_ms", data["session_duration_ms"], into: &leading)
        case "screen_view":
            Self.put("screen_name", data["screen_name"], into: &leading)
        case "commerce_event":
            let action = data["product_action"]
            for field in Self.productActionFields {
                Self.put(field, action?[field], into: &leading)
            }
            Self.put("currency_code", data["currency_code"], into: &leading)
            Self.put("affiliation", action?["affiliation"], into: &leading)
            if case .array(let products)? = action?["products"], !products.isEmpty {
                perProduct = products.map { product in
                    var fields: [(String, Value)] = []
                    for (key, field) in Self.productFields {
                        Self.put(key, product[field], into: &fields)
                    }
                    return fields
                }
            }
        default:
            break
        }
        if case .object(let entries)? = data["custom_attributes"] {
            for entry in entries {
                Self.put("attribute.\(entry.key)", entry.value, into: &attributes)
            }
        }
    }

    /// Appends a property unless the value is missing or null; a list or object as JSON text.
    private static func put(_ key: String, _ value: Value?, into properties: inout [(String, Value)]) {
        guard let value, !value.isNull else { return }
        switch value {
        case .array, .object: properties.append((key, .string(JSONWriter.compact(value))))
        default: properties.append((key, value))
        }
    }
}
