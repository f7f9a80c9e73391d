"""Errors of the renewal services, each with a stable code (the API answers with it)."""

from numbers.errors import DomainError


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Invalid(DomainError):
    code = "validation_error"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.fields = fields or {}
