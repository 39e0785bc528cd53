import CMosquitto
import Glibc

/// An MQTT 3.1.1 client over libmosquitto, driven by its owner's one thread: `connect` starts a connection
/// without waiting for it, `service` runs the network for up to a timeout and delivers what happened to
/// `onEvent` (on that same thread), `publish` queues a message. Nothing here starts a thread or retries by
/// itself: the owner decides when to try again and how long to wait, so it can stop at once.
///
/// The library's own threaded loop is not used: it gives up for good after some failures (a refused TLS
/// handshake, a name that does not resolve), and it is a thread synxd could not name or lower in priority.
public final class MQTTClient {
    /// Where and how to connect.
    public struct Options: Equatable, Sendable {
        /// The broker's host name or address, and its port.
        public var host: String
        public var port: Int
        /// The client id the broker knows this client by.
        public var clientID: String
        /// Credentials, if the broker asks for them.
        public var username: String?
        public var password: String?
        /// TLS: the CA file (or directory of certificates) the broker's certificate is checked against, and an
        /// optional client certificate and key. nil: plain TCP.
        public var tls: TLS?
        /// The keep-alive interval the broker is told; it declares the client gone after 1.5 of them in silence.
        public var keepaliveSeconds: Int
        /// Published by the broker if the connection ends without a DISCONNECT (a crash, a lost link).
        public var will: Message?

        /// TLS settings (`mosquitto_tls_set`).
        public struct TLS: Equatable, Sendable {
            /// A PEM file of CA certificates, or a directory of hashed ones (`c_rehash`).
            public var caFile: String?
            public var caDirectory: String?
            /// The client's certificate and its key (PEM), for a broker that asks for one.
            public var certFile: String?
            public var keyFile: String?

            /// TLS settings; nil fields are not passed to the library.
            public init(caFile: String?, caDirectory: String?, certFile: String?, keyFile: String?) {
                self.caFile = caFile
                self.caDirectory = caDirectory
                self.certFile = certFile
                self.keyFile = keyFile
            }
        }

        /// Options with the broker's address and the client id; the rest optional.
        public init(
            host: String, port: Int, clientID: String, username: String? = nil, password: String? = nil,
            tls: TLS? = nil, keepaliveSeconds: Int = 60, will: Message? = nil
        ) {
            self.host = host
            self.port = port
            self.clientID = clientID
            self.username = username
            self.password = password
            self.tls = tls
            self.keepaliveSeconds = keepaliveSeconds
            self.will = will
        }
    }

    /// One message to publish.
    public struct Message: Equatable, Sendable {
        /// Where it goes (no wildcards), what it carries, its QoS (0–2) and whether the broker keeps it as the
        /// topic's last message for new subscribers.
        public var topic: String
        public var payload: [UInt8]
        public var qos: Int
        public var retain: Bool

        /// A message of bytes.
        public init(topic: String, payload: [UInt8], qos: Int, retain: Bool) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }

        /// A message of UTF-8 text.
        public init(topic: String, text: String, qos: Int, retain: Bool) {
            self.init(topic: topic, payload: Array(text.utf8), qos: qos, retain: retain)
        }
    }

    /// What the network did, delivered during `service` (or `publish`).
    public enum Event: Equatable {
        /// The broker accepted the connection.
        case connected
        /// The broker answered the connection with a refusal (CONNACK's reason).
        case refused(String)
        /// The connection ended (or never came up); the reason in words.
        case disconnected(String)
        /// A published message left for the broker (QoS 0) or was acknowledged by it (QoS 1, 2).
        case delivered
    }

    /// An error libmosquitto returned, in its words.
    public struct Failure: Error, CustomStringConvertible {
        /// libmosquitto's error code (`MOSQ_ERR_…`) and its text (the system's for `MOSQ_ERR_ERRNO`).
        public let code: Int32
        public let description: String

        init(_ code: Int32) {
            self.code = code
            description =
                code == MOSQ_ERR_ERRNO.rawValue
                ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(code))
        }
    }

    private static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    private let handle: OpaquePointer
    private let options: Options
    private var attempted = false
    /// Called with each event, on the thread that called `service` or `publish`.
    public var onEvent: (Event) -> Void = { _ in }

    /// A client with `options` applied (nothing is connected yet); throws if libmosquitto refuses them (a TLS file
    /// it cannot read, a will topic with wildcards).
    public init(options: Options) throws {
        _ = MQTTClient.initialized
        guard let handle = mosquitto_new(options.clientID, true, nil) else { throw Failure(MOSQ_ERR_NOMEM.rawValue) }
        self.handle = handle
        self.options = options
        do {
            try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311))
            if options.username != nil || options.password != nil {
                try check(mosquitto_username_pw_set(handle, options.username, options.password))
            }
            if let tls = options.tls {
                try check(mosquitto_tls_set(handle, tls.caFile, tls.caDirectory, tls.certFile, tls.keyFile, nil))
            }
            if let will = options.will {
                try check(
                    will.payload.withUnsafeBytes {
                        mosquitto_will_set(
                            handle, will.topic, Int32($0.count), $0.baseAddress, Int32(will.qos), will.retain)
                    })
            }
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_callback_set(handle) { _, context, rc in
            let client = MQTTClient.owner(context)
            client.onEvent(rc == 0 ? .connected : .refused(String(cString: mosquitto_connack_string(rc))))
        }
        mosquitto_disconnect_callback_set(handle) { _, context, rc in
            MQTTClient.owner(context).onEvent(
                .disconnected(rc == 0 ? "disconnected" : String(cString: mosquitto_strerror(rc))))
        }
        mosquitto_publish_callback_set(handle) { _, context, _ in MQTTClient.owner(context).onEvent(.delivered) }
    }

    deinit { mosquitto_destroy(handle) }

    private static func owner(_ context: UnsafeMutableRawPointer?) -> MQTTClient {
        Unmanaged<MQTTClient>.fromOpaque(context!).takeUnretainedValue()
    }

    private func check(_ rc: Int32) throws { if rc != MOSQ_ERR_SUCCESS.rawValue { throw Failure(rc) } }

    /// Starts connecting (or reconnecting) without waiting for the broker; `service` completes it. Throws what
    /// fails at once (a name that does not resolve, a refused TCP connection).
    public func connect() throws {
        if attempted {
            try check(mosquitto_reconnect_async(handle))
        } else {
            attempted = true
            try check(mosquitto_connect_async(handle, options.host, Int32(options.port), Int32(options.keepaliveSeconds)))
        }
    }

    /// Runs the network for at most `timeoutMs`: reads, writes what is queued, keeps the connection alive.
    /// Returns nil while the connection is up (or still coming up), the failure once it is down.
    ///
    /// libmosquitto's own `mosquitto_loop` waits with `select()`, which refuses a socket numbered 1024 or more
    /// (synxd may hold thousands of gateway connections): this is the same loop over `poll()`, through the
    /// library's documented pieces (`mosquitto_socket`, `want_write`, `loop_read`, `loop_write`, `loop_misc`).
    public func service(timeoutMs: Int) -> Failure? {
        let socket = mosquitto_socket(handle)
        guard socket >= 0 else { return Failure(MOSQ_ERR_NO_CONN.rawValue) }
        var events = Int16(POLLIN)
        if mosquitto_want_write(handle) { events |= Int16(POLLOUT) }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        let ready = poll(&descriptor, 1, Int32(clamping: timeoutMs))
        if ready < 0, errno != EINTR { return Failure(MOSQ_ERR_ERRNO.rawValue) }
        if ready > 0 {
            if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let rc = mosquitto_loop_read(handle, 1)
                if rc != MOSQ_ERR_SUCCESS.rawValue { return Failure(rc) }
            }
            if descriptor.revents & Int16(POLLOUT) != 0, mosquitto_socket(handle) >= 0 {
                let rc = mosquitto_loop_write(handle, 1)
                if rc != MOSQ_ERR_SUCCESS.rawValue { return Failure(rc) }
            }
        }
        let rc = mosquitto_loop_misc(handle)
        return rc == MOSQ_ERR_SUCCESS.rawValue ? nil : Failure(rc)
    }

    /// Queues `message` (sent at once if the socket takes it, else by `service`). Throws if it cannot be
    /// queued: no connection, a topic with wildcards, a payload over the protocol's limit.
    public func publish(_ message: Message) throws {
        try check(
            message.payload.withUnsafeBytes {
                mosquitto_publish(
                    handle, nil, message.topic, Int32($0.count), $0.baseAddress, Int32(message.qos), message.retain)
            })
    }

    /// Sends DISCONNECT (the broker then does not publish the will) and closes the connection.
    public func disconnect() {
        _ = mosquitto_disconnect(handle)
        // One more pass writes the DISCONNECT packet if it is queued behind others.
        _ = service(timeoutMs: 100)
    }
}
