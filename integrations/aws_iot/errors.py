"""The AWS IoT integration's errors, each a ``GatehouseError`` so callers see them as
ordinary failures.

Set-up trouble is reported with the core's classes (``ConfigEntryError`` ...); what is
left is what callers of the connection (telemetry, shadow, jobs, provisioning) meet.
"""

from __future__ import annotations

from gatehouse.core import GatehouseError


class AwsIotError(GatehouseError):
    """Base of the errors below."""


class AwsIotNotConnected(AwsIotError):
    """There is no connection to AWS IoT Core right now (``MqttLink.publish``/``subscribe``)."""


class AwsIotPublishError(AwsIotError):
    """The broker did not take a message (refused, too big, or the link dropped before PUBACK)."""


class AwsIotConfigError(AwsIotError):
    """A certificate, key, CA or endpoint setting that cannot work, naming the file or field."""


class CertificateProblem(AwsIotConfigError):
    """A certificate/key/CA file that is missing, unreadable, expired or mismatched."""


class PayloadTooLarge(AwsIotPublishError):
    """A payload over AWS's 128 KB message limit: refused here (and counted), since AWS
    would drop the connection for it."""
