"""Channel and server options shared by both ends of the daemon stream."""

MAX_MESSAGE_BYTES = 16 * 1024 * 1024

OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Transport keepalive notices a dead peer even when the application is quiet.
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
]

# NATS headers the gateway sets on replies it relays.
HEADER_GATEWAY_MS = "Reliant-Gateway-Ms"
HEADER_ERROR = "Reliant-Error"
# The request was forwarded, then the daemon's stream broke: it may have reached the daemon.
ERROR_DISCONNECTED = "daemon-disconnected"
# This gateway holds no stream for the daemon: the request provably never reached it.
ERROR_NOT_HELD = "daemon-not-connected-here"
