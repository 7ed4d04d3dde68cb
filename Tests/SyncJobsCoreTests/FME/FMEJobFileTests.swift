import Testing
@testable import SyncJobsCore

/// The `fme:` section of `mapping: fme_impressions`, and its diagnostics.
@Suite struct FMEJobFileTests {
    func parse(_ yaml: String) throws -> (JobDefinition, [Diagnostic]) {
        try JobFileParser.parse(yaml, filePath: "/project/jobs/fme.yaml", displayPath: "jobs/fme.yaml")
    }

    func diagnostics(_ yaml: String) -> [String] {
        do {
            _ = try parse(yaml)
            return []
        } catch let error as JobFileError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    func jobYAML(type: String = "event", source: String = "{ file: ../i.ndjson }", fme: String) -> String {
        """
        type: \(type)
        source: \(source)
        mapping: fme_impressions
        \(fme)
        """
    }

    @Test func identitiesKeepTheJobFilesOrder() throws {
        let (job, warnings) = try parse(jobYAML(fme: "fme: { event_name: Flag Seen, identities: { user: customer_id, anonymous: other_id_2, account: customer_id } }"))
        #expect(warnings.isEmpty)
        #expect(job.fmeImpressions == FMEImpressionsSpec(eventName: "Flag Seen", identity: .byTrafficType([
            ("user", "customer_id"), ("anonymous", "other_id_2"), ("account", "customer_id"),
        ])))
        let (single, _) = try parse(jobYAML(fme: "fme: { identity: email }"))
        #expect(single.fmeImpressions == FMEImpressionsSpec(identity: .single("email")))
    }

    @Test func eachMistakeNamesItsPlaceAndTheFix() {
        #expect(diagnostics(jobYAML(fme: "")) == [
            "jobs/fme.yaml:3:10: 'mapping: fme_impressions' needs an 'fme:' section saying which identity receives the impression's key; add 'fme: { identities: { user: customer_id } }' (traffic type → identity), or 'fme: { identity: customer_id }'",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { identity: customerid }")) == [
            "jobs/fme.yaml:4:18: 'fme.identity' is 'customerid', which is not an identity FME's feed can fill; did you mean 'customer_id'?",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { identities: { user: mpid } }")) == [
            "jobs/fme.yaml:4:28: 'fme.identities.user' is 'mpid', which is not an identity FME's feed can fill; use one of 'customer_id', 'email', 'facebook', 'twitter', 'google', 'microsoft', 'yahoo', 'other', 'other_id_2', 'other_id_3', 'other_id_4'",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { identity: email, identities: { user: email } }")) == [
            "jobs/fme.yaml:4:8: 'fme' has both 'identities:' and 'identity:'; keep 'identities:' to choose by traffic type, or 'identity:' for one identity for every impression",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { event_name: get_treatment }")) == [
            "jobs/fme.yaml:4:6: 'fme' needs 'identities:' (traffic type → identity) or 'identity:'; add 'identities: { user: customer_id }' or 'identity: customer_id'",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { identities: {} }")) == [
            "jobs/fme.yaml:4:20: 'fme.identities' is empty; map at least one traffic type, e.g. 'identities: { user: customer_id }'",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { identity: email, event_name: \(String(repeating: "x", count: 257)) }")) == [
            "jobs/fme.yaml:4:37: 'fme.event_name' is 257 characters; FME allows 1 to 256; shorten it, or leave it out for 'get_treatment'",
        ])
        #expect(diagnostics(jobYAML(fme: "fme: { identity: email, trafic: user }")) == [
            "jobs/fme.yaml:4:25: unknown key 'fme.trafic'; use one of the keys 'event_name', 'identities', 'identity'",
        ])
        #expect(diagnostics(jobYAML(type: "user", fme: "fme: { identity: email }")) == [
            "jobs/fme.yaml:1:7: 'mapping: fme_impressions' makes one custom event per impression, but this is a user job (type: user); set 'type: event'",
        ])
        #expect(diagnostics(jobYAML(source: "{ sqlite: ../a.db, table: t }", fme: "fme: { identity: email }")) == [
            "jobs/fme.yaml:3:10: 'mapping: fme_impressions' reads FME impressions from a CSV, NDJSON or JSON file, but the source is not one; point 'source:' at the impressions file with 'format: json' (the webhook's array), 'ndjson' or 'csv'",
        ])
        #expect(diagnostics("""
            type: event
            source: { file: ../i.ndjson }
            mapping:
              - { column: email, to: user_identities.email }
            fme: { identity: email }
            """) == [
            "jobs/fme.yaml:5:1: 'fme' applies to 'mapping: fme_impressions' only; set 'mapping: fme_impressions' to read FME impressions, or remove 'fme:'",
        ])
        #expect(diagnostics("""
            type: user
            source: { file: ../u.csv }
            mapping:
              - { column: id, to: user_identities.customer_id }
            destination: { type: fme, api_key: "${K}", traffic_types: { user: customer_id } }
            """) == [
            "jobs/fme.yaml:1:7: an fme destination sends events, and the batches of a user job (type: user) have none; set 'type: event', or send user jobs to mParticle",
        ])
        #expect(diagnostics("""
            type: event
            source: { file: ../i.ndjson }
            mapping: fme_impresions
            """) == [
            "jobs/fme.yaml:3:10: 'mapping' is 'fme_impresions'; it must be a list of entries, 'looker' to derive it from the LookML tags of a Looker result, or 'fme_impressions' for Harness FME impressions; did you mean 'fme_impressions'?",
        ])
    }
}
