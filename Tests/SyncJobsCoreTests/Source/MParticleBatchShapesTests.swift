import Testing
@testable import SyncJobsCore

/// `format: mparticle` records: each accepted shape to exact Events API batches, and the records
/// that are none of them.
@Suite struct MParticleBatchShapesTests {
    func normalize(_ json: String) throws -> MParticleRecord {
        try MParticleBatchShapes.normalize(try JSONParser.parse(json))
    }

    func error(_ json: String) throws -> String? {
        let record = try JSONParser.parse(json)
        do {
            _ = try MParticleBatchShapes.normalize(record)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func anEventsAPIBatchIsTakenAsItIs() throws {
        let json = #"{"environment":"production","mpid":-42,"user_identities":{"customer_id":"c1","email":"a@example.com"},"user_attributes":{"plan":"pro"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"other","timestamp_unixtime_ms":1767225601000,"source_message_id":"m-1"}}],"source_request_id":"r-1"}"#
        let record = try normalize(json)
        #expect(record == MParticleRecord(shape: .eventsAPIBatch, batches: [try JSONParser.parse(json)]))
        // A batch with only user attributes, or only an mpid, is a batch too.
        #expect(try normalize(#"{"mpid":7,"user_attributes":{"a":1}}"#).shape == .eventsAPIBatch)
        #expect(try normalize(#"{"user_identities":{"other":"x"}}"#).batches.count == 1)
    }

    @Test func aListOfBatchesAsTheFileDestinationWritesIt() throws {
        let first = #"{"environment":"production","user_identities":{"customer_id":"C00001"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"other","timestamp_unixtime_ms":1767225601000,"source_message_id":"823dd54a-d33f-82c0-a523-dabd7285858d"}}],"source_request_id":"77d3bb8afe3091384e126aa87a0cf8cf"}"#
        let second = #"{"environment":"production","user_identities":{"customer_id":"C00002"},"events":[],"source_request_id":"2"}"#
        let record = try normalize("[\(first),\(second)]")
        #expect(record == MParticleRecord(shape: .eventsAPIBatchList, batches: [try JSONParser.parse(first), try JSONParser.parse(second)]))
        #expect(try normalize("[]") == MParticleRecord(shape: .eventsAPIBatchList, batches: []))
    }

    static let rawOutput = #"""
        {"events":[{"data":{"event_name":"Play","custom_event_type":"media","custom_flags":{},"timestamp_unixtime_ms":"1573828863888",
                            "event_id":"-109840007014118971","source_message_id":null,"session_id":"-8572887793551346848",
                            "session_uuid":"29959B6B","session_start_unixtime_ms":"1573828757702","event_start_unixtime_ms":"1573828863888",
                            "custom_attributes":{"content_title":"My media"},"message_type":4},
                    "event_type":"custom_event","message_id":"m-1","message_type":4}],
         "source_request_id":"r-1","user_attributes":{},"deleted_user_attributes":[],
         "user_identities":[
            {"identity_type":"customer_id","identity":"h.jekyll.md","timestamp_unixtime_ms":1540483995196},
            {"identity_type":"email","identity":"h.jekyll.md@example.com","timestamp_unixtime_ms":1540483995196},
            {"identity_type":"other_id_2","identity":"anon-2"},
            {"identity_type":"Other3","identity":"anon-3"},
            {"identity_type":"yahoo","identity":77},
            {"identity_type":"other_id_4","identity":null},
            {"identity_type":"email","identity":"second@example.com"},
            {"identity_type":"ios_idfa","identity":"x"}],
         "application_info":{"application_name":"App"},"device_info":{"platform":"iOS"},"mpid":6548290358342089000,
         "timestamp_unixtime_ms":1573828870000,"batch_id":123456,"message_type":3,"schema_version":2,"environment":"production"}
        """#

    @Test func aRawJSONOutputBatchGetsAnIdentityObjectAndLosesTheOutputOnlyFields() throws {
        let record = try normalize(Self.rawOutput)
        let expected = try JSONParser.parse(#"""
            {"events":[{"data":{"event_name":"Play","custom_event_type":"media","custom_flags":{},"timestamp_unixtime_ms":"1573828863888",
                                "event_id":"-109840007014118971","source_message_id":null,"session_id":"-8572887793551346848",
                                "session_uuid":"29959B6B","custom_attributes":{"content_title":"My media"}},
                        "event_type":"custom_event"}],
             "source_request_id":"r-1","user_attributes":{},"deleted_user_attributes":[],
             "user_identities":{"customer_id":"h.jekyll.md","email":"h.jekyll.md@example.com","other_id_2":"anon-2","other_id_3":"anon-3","yahoo":"77"},
             "application_info":{"application_name":"App"},"device_info":{"platform":"iOS"},"mpid":6548290358342089000,
             "timestamp_unixtime_ms":1573828870000,"schema_version":2,"environment":"production"}
            """#)
        #expect(record.shape == .rawOutputBatch)
        #expect(record.batches == [expected])
        #expect(record.notes == ["a second 'email' identity was left out; the first is kept",
                                 "identity type 'ios_idfa' has no Events API key; left out"])
    }

    @Test func rawOutputBatchesAreKnownByTheirBatchFieldsToo() throws {
        let record = try normalize(#"{"batch_id":1,"mpid":5,"events":[{"event_type":"session_start","data":{"message_type":1,"timestamp_unixtime_ms":1}}]}"#)
        #expect(record == MParticleRecord(shape: .rawOutputBatch, batches: [try JSONParser.parse(#"{"mpid":5,"events":[{"event_type":"session_start","data":{"timestamp_unixtime_ms":1}}]}"#)]))
        let list = try normalize(#"[{"user_identities":[{"identity_type":"customer_id","identity":"a"}]},{"user_identities":[{"identity_type":"foo","identity":"b"}]}]"#)
        #expect(list == MParticleRecord(shape: .rawOutputBatchList,
                                        batches: [try JSONParser.parse(#"{"user_identities":{"customer_id":"a"}}"#), try JSONParser.parse(#"{"user_identities":{}}"#)],
                                        notes: ["element 2 of the list: identity type 'foo' has no Events API key; left out"]))
    }

    static let firehose = #"""
        {"type":"event_processing_request","id":"req-1","timestamp_ms":1767225600000,"firehose_version":"2.6.0","source_id":"src-req",
         "account":{"account_id":7,"account_settings":{"apiKey":"secret"}},
         "mpid":"-8203393785016115206",
         "user_identities":[{"type":"customer","encoding":"raw","value":"123"},{"type":"other2","encoding":"raw","value":"anon-9"},
                            {"type":"email","encoding":"sha256","value":"ab12"},{"type":"other4","value":"anon-4"}],
         "user_attributes":{"$FirstName":"Ada"},"user_attribute_lists":{"tags":["a","b"]},
         "runtime_environment":{"type":"ios","is_debug":false,"client_ip_address":"10.0.0.1","identities":[{"type":"ios_advertising_id","encoding":"raw","value":"f16b"}]},
         "events":[
          {"type":"session_start","id":"e-1","timestamp_ms":1767225600001,"source_id":"s-1","session_id":42,"location":{"latitude":40.7142,"longitude":74.0064,"accuracy":15.0}},
          {"type":"session_end","id":"e-2","timestamp_ms":1767225600002,"source_id":"s-2","session_id":42,"session_length_ms":336000},
          {"type":"custom_event","id":"e-3","timestamp_ms":1767225600003,"name":"Transaction 7","custom_event_type":"transaction","attributes":{"k":"v"},"custom_flags":{"f":"1"}},
          {"type":"custom_event","id":"e-4","timestamp_ms":1767225600004,"name":"Tap","custom_event_type":"unknown"},
          {"type":"screen_view","id":"e-5","timestamp_ms":1767225600005,"screen_name":"Home","attributes":{},"active_time_on_site_ms":5},
          {"type":"product_action","id":"e-6","timestamp_ms":1767225600006,"session_id":43,"action":"purchase","transaction_id":"t-1","affiliation":"store",
           "total_amount":89.96,"tax_amount":5.0,"shipping_amount":5.5,"currency_code":"USD","coupon_code":"SAVE","attributes":{"channel":"app"},
           "products":[{"id":"sku-1","name":"Shoe","brand":"B","category":"C","variant":"red","position":1,"price":19.99,"quantity":4.0,
                        "coupon_code":"P","total_amount":79.96,"attributes":{"size":"9"}}]},
          {"type":"promotion_action","id":"e-7","timestamp_ms":1767225600007,"action":"view","promotions":[{"id":"promo-1","name":"Spring","creative":"banner","position":"top"}]},
          {"type":"impression","id":"e-8","timestamp_ms":1767225600008,"impressions":[{"impression_list_name":"search","products":[{"id":"sku-2","position":0,"price":40}]}]},
          {"type":"error","id":"e-9","timestamp_ms":1767225600009,"message":"boom","is_crash":true,"stack_trace":"at x"},
          {"type":"application_state_transition","id":"e-10","timestamp_ms":1767225600010,"application_state":"install"},
          {"type":"push_subscription","id":"e-11","timestamp_ms":1767225600011,"action":"subscribe","token":"tok"},
          {"type":"push_message_receipt","id":"e-12","timestamp_ms":1767225600012},
          {"type":"push_message_open","id":"e-13","timestamp_ms":1767225600013},
          {"type":"privacy_setting_change","id":"e-14","timestamp_ms":1767225600014},
          {"type":"user_attribute_change","id":"e-15","timestamp_ms":1767225600015,"added":{"a":"b"}},
          {"type":"attribution","id":"e-16","timestamp_ms":1767225600016}]}
        """#

    @Test func aFirehoseRequestWithEveryEventType() throws {
        let record = try normalize(Self.firehose)
        let expected = try JSONParser.parse(#"""
            {"environment":"production","mpid":-8203393785016115206,
             "user_identities":{"customer_id":"123","other_id_2":"anon-9","other_id_4":"anon-4"},
             "user_attributes":{"$FirstName":"Ada","tags":["a","b"]},"ip":"10.0.0.1","timestamp_unixtime_ms":1767225600000,
             "events":[
              {"event_type":"session_start","data":{"timestamp_unixtime_ms":1767225600001,"event_id":"e-1","source_message_id":"s-1","session_id":42,
                                                    "location":{"latitude":40.7142,"longitude":74.0064,"accuracy":15.0}}},
              {"event_type":"session_end","data":{"timestamp_unixtime_ms":1767225600002,"event_id":"e-2","source_message_id":"s-2","session_id":42,"session_duration_ms":336000}},
              {"event_type":"custom_event","data":{"timestamp_unixtime_ms":1767225600003,"event_id":"e-3","event_name":"Transaction 7","custom_event_type":"transaction",
                                                   "custom_attributes":{"k":"v"},"custom_flags":{"f":"1"}}},
              {"event_type":"custom_event","data":{"timestamp_unixtime_ms":1767225600004,"event_id":"e-4","event_name":"Tap","custom_event_type":"other"}},
              {"event_type":"screen_view","data":{"timestamp_unixtime_ms":1767225600005,"event_id":"e-5","screen_name":"Home","custom_attributes":{}}},
              {"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1767225600006,"event_id":"e-6","session_id":43,
                 "product_action":{"action":"purchase","transaction_id":"t-1","affiliation":"store","total_amount":89.96,"tax_amount":5.0,"shipping_amount":5.5,"coupon_code":"SAVE",
                   "products":[{"id":"sku-1","name":"Shoe","brand":"B","category":"C","variant":"red","position":1,"price":19.99,"quantity":4.0,"coupon_code":"P",
                                "total_product_amount":79.96,"custom_attributes":{"size":"9"}}]},
                 "currency_code":"USD","custom_attributes":{"channel":"app"}}},
              {"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1767225600007,"event_id":"e-7",
                 "promotion_action":{"action":"view","promotions":[{"id":"promo-1","name":"Spring","creative":"banner","position":"top"}]}}},
              {"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1767225600008,"event_id":"e-8",
                 "product_impressions":[{"product_impression_list":"search","products":[{"id":"sku-2","position":0,"price":40}]}]}},
              {"event_type":"crash_report","data":{"timestamp_unixtime_ms":1767225600009,"event_id":"e-9","message":"boom","stack_trace":"at x"}},
              {"event_type":"application_state_transition","data":{"timestamp_unixtime_ms":1767225600010,"event_id":"e-10",
                 "application_transition_type":"application_initialized","is_first_run":true}},
              {"event_type":"push_registration","data":{"timestamp_unixtime_ms":1767225600011,"event_id":"e-11","register":true,"registration_token":"tok"}},
              {"event_type":"push_message","data":{"timestamp_unixtime_ms":1767225600012,"event_id":"e-12","push_message_type":"received"}},
              {"event_type":"push_message","data":{"timestamp_unixtime_ms":1767225600013,"event_id":"e-13","push_message_type":"action"}},
              {"event_type":"opt_out","data":{"timestamp_unixtime_ms":1767225600014,"event_id":"e-14"}}],
             "source_request_id":"req-1"}
            """#)
        #expect(record.shape == .firehoseRequest)
        #expect(record.batches == [expected], "\(record.batches.map(JSONWriter.compact))")
        #expect(record.notes == ["a sha256-hashed 'email' identity was left out: FME keys are raw values",
                                 "event 15 (user_attribute_change) has no Events API event type; left out",
                                 "event 16 (attribution) has no Events API event type; left out"])
    }

    @Test func firehoseBatchFieldsAreLeftOutWhenTheRequestHasNone() throws {
        // A health check: no events, no identities. The mpid stays text when it is not an integer.
        let record = try normalize(#"{"type":"event_processing_request","id":"r","mpid":"not-a-number","runtime_environment":{"debug":true},"events":[]}"#)
        #expect(record.batches == [try JSONParser.parse(#"{"environment":"development","mpid":"not-a-number","user_identities":{},"events":[],"source_request_id":"r"}"#)])
        #expect(try normalize(#"{"type":"event_processing_request"}"#).batches
                == [try JSONParser.parse(#"{"user_identities":{},"events":[]}"#)])
        #expect(try normalize(#"{"type":"event_processing_request","events":[{"id":"x"}]}"#).notes == ["event 1 has no type; left out"])
    }

    @Test func recordsThatAreNoneOfTheShapes() throws {
        let expected = "expected an mParticle batch: an Events API batch (an object with events, user_identities or mpid), a list of batches, a raw-JSON output batch (user_identities as a list) or a Firehose event_processing_request"
        #expect(try error(#""text""#) == "\(expected); found a string")
        #expect(try error("12") == "\(expected); found an integer")
        #expect(try error("{}") == "\(expected); the record is an empty object")
        #expect(try error(#"{"name":"x","time":1}"#) == "\(expected); the record is an object with keys 'name', 'time'")
        #expect(try error(#"{"type":"module_registration_request","id":"x"}"#)
                == #"the record has type "module_registration_request"; of the Firehose messages only an event_processing_request carries events"#)
        #expect(try error(#"{"user_identities":"c1"}"#)
                == "the record's user_identities is a string; expected an object (Events API) or a list (raw-JSON output)")
        #expect(try error(#"{"events":{"event_type":"custom_event"}}"#) == "the record's events is an object, not a list")
        #expect(try error(#"[{"mpid":1},3]"#) == "element 2 of the list is an integer; a list holds batches, which are objects")
        #expect(try error(#"[{"mpid":1},{"user_identities":[]}]"#)
                == "element 2 of the list is an mParticle raw-JSON output batch but element 1 is an Events API batch; a list holds one kind of batch")
        #expect(try error(#"[{"type":"event_processing_request"}]"#)
                == "element 1 of the list is a Firehose request; a list holds Events API or raw-JSON output batches")
        #expect(try error(#"{"user_identities":["c1"]}"#) == "the record's user_identities element 1 is a string, not an object")
        #expect(try error(#"{"type":"event_processing_request","events":[1]}"#) == "the request's event 1 is an integer, not an object")
        #expect(try error(#"{"type":"event_processing_request","user_identities":{"customer_id":"x"}}"#)
                == "the request's user_identities is an object, not a list")
    }

    @Test func identityNamesFromEveryShapeMeetInTheEventsAPIKeys() {
        for (name, key) in [("customer", "customer_id"), ("customer_id", "customer_id"), ("CustomerId", "customer_id"),
                            ("other", "other"), ("other2", "other_id_2"), ("other_id_3", "other_id_3"), ("other10", "other_id_10"),
                            ("email", "email"), ("facebook", "facebook"), ("twitter", "twitter"), ("google", "google"),
                            ("microsoft", "microsoft"), ("yahoo", "yahoo"), ("mobile_number", "mobile_number"),
                            ("phone_number_2", "phone_number_2")] {
            #expect(eventsAPIIdentityKey(name) == key, "\(name)")
        }
        #expect(eventsAPIIdentityKey("android_id") == nil)
    }
}
