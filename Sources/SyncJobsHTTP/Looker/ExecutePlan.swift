import SyncJobsCore

/// What an execute request asks for, checked as the hub and the action check it before any row
/// is read.
struct ExecutePlan: Sendable {
    var kind: JobDefinition.Kind
    var environment: Environment
    var apiKey: String
    var apiSecret: String
    var downloadURL: String?
    var attachmentBytes: Int
    var base64: Bool
    var webhook: String?

    init(_ body: Value, attachmentBytes: Int, webhook: String?) throws {
        func text(_ value: Value?) -> String? {
            if case .string(let s)? = value { return s }
            return nil
        }
        // The hub's checks: answered 404 {"success": false, "error": …}.
        guard let type = text(body["type"]) else { throw HubCheck("No request type specified. The request must be of type: \"query\".") }
        guard type == "query" else {
            throw HubCheck("This action does not support requests of type \"\(type)\". The request must be of type: \"query\".")
        }
        guard let key = text(body["data"]?["apiKey"]), !key.isEmpty else { throw HubCheck("Required setting \"API Key\" not specified in action settings.") }
        guard let secret = text(body["data"]?["apiSecret"]), !secret.isEmpty else {
            throw HubCheck("Required setting \"API Secret\" not specified in action settings.")
        }
        downloadURL = text(body["scheduled_plan"]?["download_url"]).flatMap { $0.isEmpty ? nil : $0 }
        let attachment = body["attachment"].flatMap { if case .object = $0 { return $0 } else { return nil } }
        guard downloadURL != nil || attachmentBytes > 0 || attachment != nil else {
            throw HubCheck("A streaming action was sent incompatible data. The action must have a download url or an attachment.")
        }
        // The action's checks: answered 200 {"looker": {"success": false, …}}.
        switch text(body["form_params"]?["data_type"]) {
        case "user_data": kind = .user
        case "event_data": kind = .event
        default: throw ActionFailure("Missing data type (user|event).", field: "data_type")
        }
        // Exactly "production" is production; anything else development, as the action.
        environment = text(body["form_params"]?["environment"]) == "production" ? .production : .development
        apiKey = key
        apiSecret = secret
        self.attachmentBytes = attachmentBytes
        base64 = text(attachment?["mimetype"])?.hasSuffix(";base64") ?? false
        self.webhook = webhook
    }
}

struct HubCheck: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

struct ActionFailure: Error {
    var message: String
    var field: String?
    init(_ message: String, field: String? = nil) {
        self.message = message
        self.field = field
    }
}
