import SyncJobsCore

extension Value {
    /// `batch["user_identities"]?["customer_id"]` as text, for compact assertions.
    package var customerID: String? {
        if case .string(let s)? = self["user_identities"]?["customer_id"] { return s }
        return nil
    }

    /// The batch without its idempotency ids, for tests about mapping rather than ids (the ids have
    /// their own exact tests in the mParticle destination's suite).
    package var withoutIDs: Value {
        switch self {
        case .object(let entries):
            return .object(entries.filter { $0.key != "source_request_id" && $0.key != "source_message_id" }
                .map { Value.ObjectEntry($0.key, $0.value.withoutIDs) })
        case .array(let items):
            return .array(items.map(\.withoutIDs))
        default:
            return self
        }
    }
}

/// All rows of a query, read as values.
package func rows(_ database: SQLiteDatabase, _ sql: String, _ values: [Value] = []) throws -> [[Value]] {
    let statement = try database.prepare(sql)
    try statement.bind(values)
    var result: [[Value]] = []
    while try statement.step() { result.append(try statement.row()) }
    return result
}
