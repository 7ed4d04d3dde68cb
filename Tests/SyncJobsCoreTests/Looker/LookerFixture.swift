import Foundation
@testable import SyncJobsCore

/// Builds Looker `json_detail` results for tests: fields with their tags, then rows of cells.
struct LookerFixture {
    struct Field {
        var name: String
        /// The `tags` value as JSON text (`["mp_email"]`), or nil to leave the key out.
        var tags: String?

        static func field(_ name: String, _ tags: String? = "[]") -> Field { Field(name: name, tags: tags) }
    }

    var measures: [Field] = []
    var dimensions: [Field] = []
    var tableCalculations: [Field] = []
    var pivots: String = "[]"
    /// Each row's values as JSON literals, in field order: measures, dimensions, table calculations.
    var rows: [[String]] = []

    var allFields: [Field] { measures + dimensions + tableCalculations }

    func fieldsJSON() -> String {
        func list(_ fields: [Field], measure: Bool) -> String {
            "[" + fields.map { field in
                let view = field.name.split(separator: ".").first.map { #","view":"\#($0)""# } ?? ""
                let tags = field.tags.map { #","tags":\#($0)"# } ?? ""
                return #"{"name":"\#(field.name)","label":"\#(field.name.uppercased())"\#(view),"measure":\#(measure)\#(tags)}"#
            }.joined(separator: ",") + "]"
        }
        return #"{"measures":\#(list(measures, measure: true)),"dimensions":\#(list(dimensions, measure: false)),"table_calculations":\#(list(tableCalculations, measure: false)),"pivots":\#(pivots)}"#
    }

    func rowJSON(_ values: [String]) -> String {
        "{" + zip(allFields, values).map { field, value in
            #""\#(field.name)":{"value":\#(value),"rendered":"r","links":[{"label":"x","url":"/explore?f=1","type":"drill"}]}"#
        }.joined(separator: ",") + "}"
    }

    /// The whole document, laid out as Looker writes it (metadata, fields, data, more metadata).
    func json() -> String {
        """
        {"status":"complete","ran_at":"2026-11-22T06:00:04+00:00","sql":"SELECT 1 -- \\"quoted\\" [x] {y}",
         "fields":\(fieldsJSON()),
         "has_totals":false,
         "data":[
        \(rows.map(rowJSON).joined(separator: ",\n"))
         ],
         "drill_menu_build_time":0.03}
        """
    }
}
