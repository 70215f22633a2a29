"""Test harness that runs real protocol peers (MQTT broker, NATS servers) for the test-suite.

Real peers catch the protocol details that mocks paper over (TLS negotiation, QoS
redelivery, JetStream quorum), so integration tests run against them on loopback.
"""
