import SyncJobsCore

/// The mParticle action as the Action Hub protocol describes it: its definition in the action
/// list, and its form (data type and environment), as the upstream action has them.
enum LookerAction {
    static let name = "mparticle"

    static func definition(base: String, lookerVersion: [Int]?) -> Value {
        // json_detail_lite_stream for Looker 6.2.0 and later, as the action; json_detail before.
        let streamingFormat = lookerVersion.map { $0.lexicographicallyPrecedes([6, 2, 0]) == false } ?? false
        let param = { (name: String, label: String, description: String, sensitive: Bool) -> Value in
            .object([.init("description", .string(description)), .init("label", .string(label)), .init("name", .string(name)),
                     .init("required", .bool(true)), .init("sensitive", .bool(sensitive))])
        }
        return .object([
            .init("description", .string("Send user or event data from Looker to mParticle.")),
            .init("form_url", .string("\(base)/actions/\(name)/form")),
            .init("label", .string("mParticle")),
            .init("name", .string(name)),
            .init("params", .array([param("apiKey", "API Key", "API Key for mParticle", false),
                                    param("apiSecret", "API Secret", "API Secret for mParticle", true)])),
            .init("required_fields", .array([])),
            .init("supported_action_types", .array([.string("query")])),
            .init("uses_oauth", .bool(false)),
            .init("delegate_oauth", .bool(false)),
            .init("supported_formats", .array([.string(streamingFormat ? "json_detail_lite_stream" : "json_detail")])),
            .init("supported_formattings", .array([.string("unformatted")])),
            .init("supported_visualization_formattings", .array([.string("noapply")])),
            .init("supported_download_settings", .array([.string("url")])),
            .init("icon_data_uri", .null),
            .init("url", .string("\(base)/actions/\(name)/execute")),
            .init("token_url", .string("")),
        ])
    }

    static let form: Value = {
        let option = { (name: String, label: String) -> Value in .object([.init("name", .string(name)), .init("label", .string(label))]) }
        return .object([.init("fields", .array([
            .object([.init("label", .string("Data Type")), .init("name", .string("data_type")),
                     .init("description", .string("Specify data type: User Profiles or Events")), .init("required", .bool(true)),
                     .init("options", .array([option("user_data", "User Profiles"), option("event_data", "Events")])),
                     .init("type", .string("select"))]),
            .object([.init("label", .string("Environment")), .init("name", .string("environment")),
                     .init("description", .string("Specify environment to send to: Test/Development or Production")),
                     .init("required", .bool(true)),
                     .init("options", .array([option("production", "Production"), option("development", "Test/Development")])),
                     .init("type", .string("select"))]),
        ]))])
    }()

    /// `LookerOutgoingWebhook/7.3.00004561` → [7, 3, 4561]; nil without that prefix.
    static func version(userAgent: String?) -> [Int]? {
        let prefix = "LookerOutgoingWebhook/"
        guard let userAgent, userAgent.hasPrefix(prefix) else { return nil }
        let parts = userAgent.dropFirst(prefix.count).split(separator: ".").prefix(3).map { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 2, parts.allSatisfy({ $0 != nil }) else { return nil }
        return parts.map { $0! } + Array(repeating: 0, count: 3 - parts.count)
    }
}
