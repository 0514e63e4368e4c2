"""Errors raised by service logic.

Service code raises these; it knows nothing of HTTP. The HTTP layer
(`kumo.api.errors`) renders each one in the dialect of the service that
raised it (Keystone's ``error``, Neutron's ``NeutronError``, Nova's
``itemNotFound`` ...), with the status code carried here.
"""


class KumoError(Exception):
    status = 500
    title = "Internal Server Error"
    # Neutron names its error types (``NetworkNotFound``, ``IpAddressGenerationFailure``);
    # other services ignore it.
    kind = "KumoError"

    def __init__(self, message: str | None = None, *, kind: str | None = None):
        super().__init__(message or self.default_message())
        self.message = message or self.default_message()
        if kind:
            self.kind = kind

    def default_message(self) -> str:
        return self.title


class BadRequest(KumoError):
    status = 400
    title = "Bad Request"
    kind = "BadRequest"


class Unauthorized(KumoError):
    status = 401
    title = "Unauthorized"
    kind = "NotAuthorized"

    def default_message(self) -> str:
        return "The request you have made requires authentication."


class Forbidden(KumoError):
    status = 403
    title = "Forbidden"
    kind = "PolicyNotAuthorized"

    def default_message(self) -> str:
        return "You are not authorized to perform the requested action."


class NotFound(KumoError):
    status = 404
    title = "Not Found"
    kind = "NotFound"

    def __init__(self, message: str | None = None, *, kind: str | None = None):
        super().__init__(message or "Could not find the requested resource.", kind=kind)

    @classmethod
    def resource(cls, what: str, ident: str) -> "NotFound":
        return cls(f"Could not find {what}: {ident}.")


class MethodNotAllowed(KumoError):
    status = 405
    title = "Method Not Allowed"
    kind = "HTTPMethodNotAllowed"


class NotAcceptable(KumoError):
    status = 406
    title = "Not Acceptable"
    kind = "NotAcceptable"


class Conflict(KumoError):
    status = 409
    title = "Conflict"
    kind = "Conflict"


class Gone(KumoError):
    status = 410
    title = "Gone"
    kind = "Gone"


class PayloadTooLarge(KumoError):
    status = 413
    title = "Request Entity Too Large"
    kind = "RequestEntityTooLarge"


class UnsupportedMediaType(KumoError):
    status = 415
    title = "Unsupported Media Type"
    kind = "UnsupportedMediaType"


class RangeNotSatisfiable(KumoError):
    status = 416
    title = "Requested Range Not Satisfiable"
    kind = "RangeNotSatisfiable"


class NotImplementedYet(KumoError):
    status = 501
    title = "Not Implemented"
    kind = "NotImplemented"
