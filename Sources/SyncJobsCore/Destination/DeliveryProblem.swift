import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Why one attempt got no answer, in words for the run's error, and whether the endpoint could be
/// reached at all.
struct DeliveryProblem: Equatable {
    var text: String
    /// No connection could be made (refused, no route, no DNS answer, connect timeout): the
    /// request never left this machine.
    var unreachable: Bool

    /// `endpoint` is `host:port` of the destination URL; `timeout` is `destination.timeout`.
    static func describe(_ error: Error, endpoint: String, timeout: Duration, connectTimeout: Duration) -> DeliveryProblem {
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .deadlineExceeded, .readTimeout:
                return .init(text: "no answer within destination.timeout (\(MParticleDestination.format(timeout)))", unreachable: false)
            case .remoteConnectionClosed:
                return .init(text: "the connection was closed before an answer", unreachable: false)
            case .connectTimeout:
                return .init(text: "no connection to \(endpoint) within \(MParticleDestination.format(connectTimeout))", unreachable: true)
            default:
                return .init(text: "\(error)", unreachable: false)
            }
        case let error as NIOConnectionError:
            if let dns = error.dnsAError ?? error.dnsAAAAError, error.connectionErrors.isEmpty {
                return .init(text: "the host \(error.host) cannot be resolved (\(dns))", unreachable: true)
            }
            let endpoint = "\(error.host):\(error.port)"
            if let first = error.connectionErrors.first, let io = first.error as? IOError, let problem = connectFailure(io, endpoint: endpoint) {
                return .init(text: problem, unreachable: true)
            }
            return .init(text: "cannot connect to \(endpoint): \(error.connectionErrors.first.map { "\($0.error)" } ?? "no address")", unreachable: true)
        case let error as IOError:
            if let problem = connectFailure(error, endpoint: endpoint) { return .init(text: problem, unreachable: true) }
            return .init(text: "the connection failed: \(String(cString: strerror(error.errnoCode)))", unreachable: false)
        case let error as ChannelError:
            if case .connectTimeout = error {
                return .init(text: "no connection to \(endpoint) within \(MParticleDestination.format(connectTimeout))", unreachable: true)
            }
            return .init(text: "\(error)", unreachable: false)
        default:
            return .init(text: "\(error)", unreachable: false)
        }
    }

    /// The errors a connection attempt ends with; nil for one that means an established
    /// connection failed.
    private static func connectFailure(_ error: IOError, endpoint: String) -> String? {
        switch error.errnoCode {
        case ECONNREFUSED: return "connection refused by \(endpoint)"
        case ENETUNREACH, EHOSTUNREACH: return "no route to \(endpoint)"
        case ETIMEDOUT: return "no connection to \(endpoint) in time"
        default: return nil
        }
    }
}
