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


# -- shadow.py, jobs.py, provisioning.py ------------------------------------------------


class DeltaRefused(AwsIotError):
    """A shadow desired value that maps to no service call of its entity (shadow.py's
    documented rule); logged once per burst and counted, never guessed."""


class JobDocumentError(AwsIotError, ValueError):
    """A job document the runner will not execute; the reason goes to AWS as the
    REJECTED execution's ``statusDetails.reason``."""


class ProvisioningError(AwsIotError):
    """Fleet provisioning failed: AWS refused (``error_code``/``status_code`` are AWS's
    ``errorCode``/``statusCode``), no answer came, or the stored identity cannot be read
    (the message names the file)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, error_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
