"""Constants of the OPC UA integration: configuration keys, defaults and file layout."""

from typing import Final

DOMAIN: Final = "opcua"

# -- connection (entry data) ----------------------------------------------------------
CONF_NAME: Final = "name"
CONF_ENDPOINT: Final = "endpoint"
CONF_SECURITY_POLICY: Final = "security_policy"
CONF_SECURITY_MODE: Final = "security_mode"
CONF_AUTH: Final = "auth"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"
CONF_USER_CERTIFICATE: Final = "user_certificate"
CONF_USER_PRIVATE_KEY: Final = "user_private_key"
CONF_TRUST_ON_FIRST_USE: Final = "trust_on_first_use"
CONF_REQUEST_TIMEOUT: Final = "request_timeout"
CONF_KEEPALIVE_INTERVAL: Final = "keepalive_interval"
CONF_PUBLISHING_INTERVAL: Final = "publishing_interval"
CONF_RECONNECT_MAX_DELAY: Final = "reconnect_max_delay"
CONF_NODES: Final = "nodes"

# -- one node / entity ----------------------------------------------------------------
CONF_NODE: Final = "node"
CONF_PLATFORM: Final = "platform"
CONF_UNIQUE_ID: Final = "unique_id"
CONF_ICON: Final = "icon"
CONF_UNIT: Final = "unit_of_measurement"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_STATE_CLASS: Final = "state_class"
CONF_PRECISION: Final = "suggested_display_precision"
CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_STEP: Final = "step"
CONF_MODE: Final = "mode"  # number display mode (auto, box, slider)
CONF_MONITOR: Final = "monitor"  # subscribe or poll
CONF_SAMPLING_INTERVAL: Final = "sampling_interval"
CONF_DEADBAND: Final = "deadband"
CONF_DEADBAND_TYPE: Final = "deadband_type"
CONF_QUEUE_SIZE: Final = "queue_size"
CONF_POLL_INTERVAL: Final = "poll_interval"

# -- choices --------------------------------------------------------------------------
POLICY_NONE: Final = "None"
POLICY_BASIC256SHA256: Final = "Basic256Sha256"
POLICY_AES128: Final = "Aes128Sha256RsaOaep"
SECURITY_POLICIES: Final = (POLICY_NONE, POLICY_BASIC256SHA256, POLICY_AES128)
MODE_SIGN: Final = "Sign"
MODE_SIGN_AND_ENCRYPT: Final = "SignAndEncrypt"
SECURITY_MODES: Final = (MODE_SIGN, MODE_SIGN_AND_ENCRYPT)
AUTH_ANONYMOUS: Final = "anonymous"
AUTH_USERNAME: Final = "username"
AUTH_CERTIFICATE: Final = "certificate"
AUTH_METHODS: Final = (AUTH_ANONYMOUS, AUTH_USERNAME, AUTH_CERTIFICATE)
DEADBAND_ABSOLUTE: Final = "absolute"
DEADBAND_PERCENT: Final = "percent"
MONITOR_SUBSCRIBE: Final = "subscribe"
MONITOR_POLL: Final = "poll"
PLATFORMS: Final = ("sensor", "binary_sensor", "switch", "number")

# -- defaults (seconds, like every interval in Gatehouse; OPC UA itself speaks ms) ----
DEFAULT_NAME: Final = "OPC UA server"
DEFAULT_REQUEST_TIMEOUT: Final = 4.0
DEFAULT_KEEPALIVE_INTERVAL: Final = 5.0
DEFAULT_PUBLISHING_INTERVAL: Final = 0.5
DEFAULT_SAMPLING_INTERVAL: Final = 0.25
DEFAULT_POLL_INTERVAL: Final = 5.0
DEFAULT_QUEUE_SIZE: Final = 1
DEFAULT_RECONNECT_MIN_DELAY: Final = 0.5
DEFAULT_RECONNECT_MAX_DELAY: Final = 60.0
RECONNECT_JITTER: Final = 0.2
"""Reconnect waits are shortened by up to this fraction, so boxes spread out."""
SESSION_TIMEOUT: Final = 120.0
"""Requested session lifetime; the keepalive read keeps a healthy session alive."""

# -- files below <config>/opcua/ -------------------------------------------------------
PKI_DIR: Final = "opcua"
CLIENT_CERT_FILE: Final = "client_cert.der"
CLIENT_KEY_FILE: Final = "client_key.pem"
TRUSTED_DIR: Final = "trusted"
REJECTED_DIR: Final = "rejected"

# -- state attributes -----------------------------------------------------------------
ATTR_QUALITY: Final = "quality"
ATTR_STATUS: Final = "status"
ATTR_SOURCE_TIMESTAMP: Final = "source_timestamp"
ATTR_NODE: Final = "node"
MAX_STATE_LENGTH: Final = 255
"""The core refuses longer states; longer string values are cut to this."""
