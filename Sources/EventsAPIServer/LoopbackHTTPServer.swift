import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request as a loopback server's own checks see it, once its body has fully arrived.
struct LoopbackRequest {
    /// Arrival number, from 0, counting every request.
    var number: Int
    var method: HTTPMethod
    /// The path, without the query.
    var path: String
    var headers: HTTPHeaders
    var body: ByteBuffer
}

/// What a loopback server writes back.
struct LoopbackAnswer {
    var status: Int
    var headers: [(String, String)] = []
    var body: String = ""
    var close = false
}

/// One request as the plumbing saw it: when it arrived, what was answered and when.
struct LoopbackExchange: Sendable {
    var number: Int
    var path: String
    /// nil when the connection was dropped instead of answered.
    var status: Int?
    var bytes: Int
    var arrivedAt: ContinuousClock.Instant
    var answeredAt: ContinuousClock.Instant?
    /// The `Retry-After` the answer carried, in seconds.
    var retryAfter: Int?
}

/// What a server built on `LoopbackHTTPServer` decides: the fault for a request, the answer to a
/// request it handles, and the answer to a scripted status.
protocol LoopbackResponder: AnyObject, Sendable {
    func fault(for request: EventsAPIServer.IncomingRequest) -> EventsAPIServer.Fault?
    /// Checks a request and accepts it (recording what it carried) or says why not.
    func answer(_ request: LoopbackRequest) -> LoopbackAnswer
    /// The answer to `Fault.status`.
    func faultAnswer(status: Int, retryAfter: Int?) -> LoopbackAnswer
}

/// The HTTP/1.1 keep-alive plumbing of the loopback test servers: a SwiftNIO listener on
/// 127.0.0.1, requests gathered whole, answers written with keep-alive, and the scripted faults
/// (`EventsAPIServer.Fault`) applied before the responder sees a request. It counts arrivals and
/// connections and keeps the log of exchanges; what a request means is the responder's business.
final class LoopbackHTTPServer: Sendable {
    private struct State {
        var arrivals = 0
        var connections = 0
        var exchanges: [LoopbackExchange] = []
    }

    private let state = Mutex(State())
    private let channel = Mutex<Channel?>(nil)

    init() {}

    /// Starts listening on 127.0.0.1 and returns the port (0 picks a free one).
    func start(port: Int, group: any EventLoopGroup, responder: any LoopbackResponder) async throws -> Int {
        let server = self
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                server.state.withLock { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(LoopbackHTTPHandler(server: server, responder: responder))
                }
            }
        let bound = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        channel.withLock { $0 = bound }
        return bound.localAddress?.port ?? port
    }

    /// Stops listening. Connections already open are left to their clients.
    func stop() async throws {
        let bound = channel.withLock { c -> Channel? in defer { c = nil }; return c }
        try await bound?.close()
    }

    var port: Int? { channel.withLock { $0?.localAddress?.port } }
    /// Requests received so far (each has an arrival number below this).
    var arrivals: Int { state.withLock { $0.arrivals } }
    var connections: Int { state.withLock { $0.connections } }
    /// Answered and dropped requests, in the order that happened.
    var exchanges: [LoopbackExchange] { state.withLock { $0.exchanges } }

    func nextArrival() -> Int {
        state.withLock { s in
            defer { s.arrivals += 1 }
            return s.arrivals
        }
    }

    func record(_ exchange: LoopbackExchange) {
        state.withLock { $0.exchanges.append(exchange) }
    }
}

/// One connection's HTTP/1.1 exchanges.
final class LoopbackHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: LoopbackHTTPServer
    private let responder: any LoopbackResponder
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?

    init(server: LoopbackHTTPServer, responder: any LoopbackResponder) {
        self.server = server
        self.responder = responder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            if body == nil || body!.readableBytes == 0 { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            let body = self.body ?? context.channel.allocator.buffer(capacity: 0)
            self.head = nil
            self.body = nil
            process(context: context, head: head, body: body)
        }
    }

    private func process(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        let arrivedAt = ContinuousClock.now
        let number = server.nextArrival()
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        let server = self.server
        let responder = self.responder
        func exchange(_ answer: LoopbackAnswer?) -> LoopbackExchange {
            .init(number: number, path: path, status: answer?.status, bytes: body.readableBytes,
                  arrivedAt: arrivedAt, answeredAt: answer == nil ? nil : ContinuousClock.now,
                  retryAfter: answer?.headers.first { $0.0 == "Retry-After" }.flatMap { Int($0.1) })
        }
        func respond(_ answer: LoopbackAnswer) {
            server.record(exchange(answer))
            write(context: context, answer, keepAlive: head.isKeepAlive)
        }
        // The handler and its context belong to the channel's event loop; a delayed answer runs
        // there too, so they are used without crossing threads.
        func later(_ milliseconds: Int, _ work: @escaping () -> Void) {
            guard milliseconds > 0 else { return work() }
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                guard context.channel.isActive else { return }
                work()
            }
        }
        func handle() -> LoopbackAnswer {
            responder.answer(LoopbackRequest(number: number, method: head.method, path: path, headers: head.headers, body: body))
        }
        switch responder.fault(for: .init(number: number, path: path, body: body)) {
        case .status(let code, let retryAfter, let wait)?:
            let answer = responder.faultAnswer(status: code, retryAfter: retryAfter)
            later(wait) { respond(answer) }
        case .delay(let ms)?:
            later(ms) { respond(handle()) }
        case .drop?:
            server.record(exchange(nil))
            context.close(promise: nil)
        case .dropAfterAccept?:
            _ = handle()
            server.record(exchange(nil))
            context.close(promise: nil)
        case .hold(let hold)?:
            // The answer is written on the channel's event loop, whichever thread releases the hold.
            let answer = NIOLoopBound({ respond(handle()) }, eventLoop: context.eventLoop)
            let channel = context.channel
            hold.enter {
                answer.eventLoop.execute {
                    guard channel.isActive else { return }
                    answer.value()
                }
            }
        case nil:
            respond(handle())
        }
    }

    private func write(context: ChannelHandlerContext, _ answer: LoopbackAnswer, keepAlive: Bool) {
        var headers = HTTPHeaders()
        for (name, value) in answer.headers { headers.add(name: name, value: value) }
        headers.add(name: "Content-Length", value: "\(answer.body.utf8.count)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !answer.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: answer.body)))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Where `Fault.hold` keeps requests until a test releases them.
public final class RequestHold: Sendable, Equatable {
    private struct State {
        var arrivals = 0
        var released = false
        var waiting: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// How many requests have reached the hold.
    public var arrivals: Int { state.withLock { $0.arrivals } }

    /// Answers the requests held so far, and lets later ones through at once.
    public func release() {
        let waiting = state.withLock { state in
            state.released = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for answer in waiting { answer() }
    }

    func enter(_ answer: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            state.arrivals += 1
            if state.released { return true }
            state.waiting.append(answer)
            return false
        }
        if now { answer() }
    }

    public static func == (lhs: RequestHold, rhs: RequestHold) -> Bool { lhs === rhs }
}

extension LoopbackHTTPServer {
    /// How often `key` occurs in `body`, without parsing: the sinks' fast path counts batches or
    /// events by a key each one has once. It finds `rareByte` (a byte of the key that is rare in
    /// bodies) with memchr, then compares the whole key around it, instead of a loop per byte.
    static func occurrences(of key: String, rareByte: Unicode.Scalar, in body: ByteBuffer) -> Int {
        let needle = Array(key.utf8)
        guard let anchor = needle.firstIndex(of: UInt8(ascii: rareByte)) else { return 0 }
        return body.withUnsafeReadableBytes { haystack in
            guard let base = haystack.baseAddress else { return 0 }
            var position = anchor
            var count = 0
            while position < haystack.count {
                guard let found = memchr(base + position, Int32(UInt8(ascii: rareByte)), haystack.count - position) else { break }
                let at = base.distance(to: UnsafeRawPointer(found))
                let start = at - anchor
                if start + needle.count <= haystack.count, memcmp(base + start, needle, needle.count) == 0 { count += 1 }
                position = at + 1
            }
            return count
        }
    }
}
