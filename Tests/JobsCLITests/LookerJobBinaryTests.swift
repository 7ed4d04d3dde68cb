import Foundation
import Testing
@testable import SyncJobsCore

/// The shipped Looker example jobs, run through the built binary as a user runs them.
@Suite struct LookerJobBinaryTests {
    @Test func theLookerUsersExampleRunsFromTheProjectRoot() async throws {
        let project = try Project()
        let result = try await project.jobs("run", "looker-users")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.range(of: #"^looker-users run #1: read 250 rows, sent 249 in 3 requests, rejected 1 in \d+\.\d\d s \([\d,]+ rows/s\)\n$"#, options: .regularExpression) != nil, "\(result.stdout)")
        #expect(result.stderr == "  rejected row 42: every identity is null or empty (column 'users.id', column 'users.email'); a batch must identify its user\n")
        let lines = project.read("out/looker-users.ndjson").split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix(#"[{"environment":"production","user_identities":{"customer_id":"10001","email":"linus.perlman1@example.com"},"user_attributes":{"looker_orders.count":16,"looker_orders.total_revenue":1250.6,"looker_users.first_name":"Linus","looker_users.state":"California","looker_users.is_vip":"No","looker_users.created_date":"2026-07-30","looker_revenue_per_order":78.1625},"source_request_id":""#))

        let plan = try await project.jobs("plan", "looker-events")
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("""
            mapping: derived from the LookML tags (event job, canonical identity names)
              field                  tag                       target
              users.id               mp_customer_id            user_identities.customer_id
              users.email            mp_email                  user_identities.email
              events.id              mp_event_id               events.data.source_message_id
            """), "\(plan.stdout)")
        #expect(plan.stdout.contains("  events.uri             -                         not sent: no mp_ tag\n"))
    }
}
