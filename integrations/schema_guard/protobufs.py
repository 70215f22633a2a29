"""Protocol Buffers rules: a descriptor set file and the message type a rule names.

The descriptor set is what ``protoc --descriptor_set_out=telemetry.v1.desc
--include_imports telemetry.proto`` writes; it is loaded into a private descriptor pool
(one per schema version, so two versions of the same ``.proto`` never collide), and the
rule's message class is made from it once. A payload that does not decode as that type
is refused; one that does becomes a dict (``MessageToDict`` with the ``.proto`` field
names), which is what entities get. Decoding is upb's C code on a payload already size
checked, with protobuf's own recursion limit (100) for nested messages.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message

from .errors import SchemaLoadError
from .violation import Violation


class DescriptorSet:
    """One version of a descriptor set file: a pool to make message classes from."""

    def __init__(self, name: str, version: int, file: str, raw: bytes) -> None:
        self.name = name
        self.version = version
        self.file = file
        files = descriptor_pb2.FileDescriptorSet()
        try:
            files.ParseFromString(raw)
        except DecodeError as err:
            raise SchemaLoadError(file, f"not a descriptor set: {err}") from None
        if not files.file:
            raise SchemaLoadError(file, "the descriptor set holds no .proto file")
        self.pool = descriptor_pool.DescriptorPool()
        try:
            for proto in files.file:
                self.pool.Add(proto)
        except (TypeError, ValueError) as err:
            raise SchemaLoadError(file, f"descriptor set does not load: {err}") from None

    def message(self, full_name: str) -> ProtobufSchema:
        try:
            descriptor = self.pool.FindMessageTypeByName(full_name)
        except KeyError:
            raise SchemaLoadError(self.file, f"no message type {full_name!r}") from None
        return ProtobufSchema(self, full_name, message_factory.GetMessageClass(descriptor))


class ProtobufSchema:
    """A descriptor set version bound to one message type."""

    kind = "protobuf"
    assert_formats = False

    def __init__(self, files: DescriptorSet, message: str, cls: type[Message]) -> None:
        self.name = files.name
        self.version = files.version
        self.file = files.file
        self.message_type = message
        self._cls = cls

    def validate(self, payload: bytes, max_depth: int, masked: Any = None) -> tuple[
        Any, list[Violation]
    ]:
        msg = self._cls()
        try:
            msg.ParseFromString(payload)
        except (DecodeError, RecursionError, ValueError) as err:
            return None, [Violation("", "protobuf", f"not a {self.message_type}: {err}")]
        return json_format.MessageToDict(msg, preserving_proto_field_name=True), []

    def validate_value(self, value: Any, masked: Any = None) -> tuple[Any, list[Violation]]:
        """A decoded dict (a replay of a masked payload) is checked by re-encoding it."""
        try:
            json_format.ParseDict(value, self._cls())
        except (json_format.ParseError, TypeError, ValueError) as err:
            return None, [Violation("", "protobuf", f"not a {self.message_type}: {err}")]
        return value, []

    def __repr__(self) -> str:
        return f"<ProtobufSchema {self.name} v{self.version} {self.message_type}>"
