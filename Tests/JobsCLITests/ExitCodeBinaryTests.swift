import Foundation
import Testing
@testable import SyncJobsCore

/// Exit codes through the built binary: 2 for every invalid job or usage mistake, whichever
/// command finds it, with the exact message (README "Commands").
@Suite struct ExitCodeBinaryTests {
    @Test func aMissingTableIsAnInvalidJobLikeAMissingColumn() async throws {
        let project = try Project()
        try project.write("jobs/orders.yaml", """
            type: user
            source:
              sqlite: ../examples/shop.db
              table: order
            mapping:
              - { column: customer_id, to: user_identities.customer_id }
            """)
        let message = "jobs/orders.yaml:4:10: table 'order' does not exist in 'examples/shop.db'; did you mean 'orders'?\n"
        let run = try await project.jobs("run", "orders")
        #expect(run.status == 2)
        #expect(run.stderr == message)
        #expect(run.stdout == "")
        let validate = try await project.jobs("validate", "orders")
        #expect(validate.status == 2)
        #expect(validate.stderr == message + "1 job file of 1 did not validate\n")
        let plan = try await project.jobs("plan", "orders")
        #expect(plan.status == 2)
        #expect(plan.stderr == message)

        try project.write("jobs/orders.yaml", """
            type: user
            source:
              sqlite: ../examples/shop.db
              table: orders
            mapping:
              - { column: customer, to: user_identities.customer_id }
            """)
        let column = try await project.jobs("run", "orders")
        #expect(column.status == 2)
        #expect(column.stderr.hasPrefix("jobs/orders.yaml:6:7: column 'customer' is not in table 'orders' in examples/shop.db; did you mean 'customer_id'?"), "\(column.stderr)")
    }

    @Test func anEmptyMappingIsRefusedByValidateAndRun() async throws {
        let project = try Project()
        try project.write("jobs/empty.yaml", "type: user\nsource: { sqlite: ../examples/shop.db, table: users }\nmapping: []\n")
        let message = "jobs/empty.yaml:3:10: the mapping is empty, so no batch could say which user it is about; add entries, at least one mapping a column to 'user_identities.customer_id', 'user_identities.email', another identity key, 'mpid' or a device id\n"
        let validate = try await project.jobs("validate", "empty")
        #expect(validate.status == 2)
        #expect(validate.stderr == message + "1 job file of 1 did not validate\n")
        let run = try await project.jobs("run", "empty")
        #expect(run.status == 2)
        #expect(run.stderr == message)
        #expect(project.read("out/empty.ndjson") == "")
    }

    @Test func aTypoInAnyNameRunsNothing() async throws {
        let project = try Project()
        let result = try await project.jobs("run", "shop-users", "app-evnts")
        #expect(result.status == 2)
        #expect(result.stderr == """
            no job named 'app-evnts' in jobs; did you mean 'app-events'?
            no job was run: every job named must be found and parse before any runs

            """)
        #expect(result.stdout == "")
        #expect(!FileManager.default.fileExists(atPath: project.root + "/out/shop-users.ndjson"))
        #expect(!FileManager.default.fileExists(atPath: project.root + "/.jobs/state.db"))
    }

    @Test func twoJobFilesWithOneNameAreRefusedByEveryCommandThatNamesThem() async throws {
        let project = try Project()
        try project.write("jobs/shop-users-copy.yaml", project.read("jobs/shop-users.yaml"))
        let refusal = "job name 'shop-users' is declared by 2 job files, jobs/shop-users.yaml and jobs/shop-users-copy.yaml; give each job a unique 'name:' (a job's name keys its checkpoint, lock and history)\n"
        for command in [["run", "shop-users"], ["plan", "shop-users"], ["status", "shop-users"], ["history", "shop-users"],
                        ["reset", "shop-users", "--yes"], ["validate", "shop-users"]] {
            let result = try await JobsBinary.run(command, in: project.root)
            #expect(result.status == 2, "\(command)")
            #expect(result.stderr == refusal, "\(command)")
        }
        let byFile = try await project.jobs("run", "shop-users-copy")
        #expect(byFile.status == 2)
        #expect(byFile.stderr == "job name 'shop-users' is declared by 2 job files, jobs/shop-users-copy.yaml and jobs/shop-users.yaml; give each job a unique 'name:' (a job's name keys its checkpoint, lock and history)\n")
        #expect(!FileManager.default.fileExists(atPath: project.root + "/out/shop-users.ndjson"))
    }

    @Test(arguments: [
        (["run", "shop-users", "--limit", "-1"], "--limit must be a whole number of 1 or more; got -1"),
        (["run", "shop-users", "--limit", "0"], "--limit must be a whole number of 1 or more; got 0"),
        (["run", "shop-users", "--limit", "ten"], "--limit must be a whole number of 1 or more; got ten"),
        (["schedule", "shop-users", "-n", "-3"], "-n must be a whole number of 1 or more; got -3"),
        (["history", "shop-users", "-n", "-1"], "-n must be a whole number of 1 or more; got -1"),
        (["daemon", "--max-parallel", "-2"], "--max-parallel must be a whole number of 1 or more; got -2"),
    ])
    func aCountThatIsNotAWholeNumberOfOneOrMoreSaysSo(arguments: [String], message: String) async throws {
        let project = try Project()
        let result = try await JobsBinary.run(arguments, in: project.root)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("Error: \(message)\nUsage: jobs \(arguments[0]) "), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.root + "/out/shop-users.ndjson"))
    }
}
