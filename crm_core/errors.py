"""Typed errors of the CRM services; the web tier maps each class to one HTTP status once."""

from __future__ import annotations


class CrmError(Exception):
    """Base class; ``str(error)`` is a message a user can read (Chinese, then English)."""

    status = 400


class NotFound(CrmError):
    status = 404


class PermissionDenied(CrmError):
    status = 403


class AuthFailed(CrmError):
    status = 401


class InvalidInput(CrmError):
    """Bad data that passed the schema but breaks a business rule (unknown reference, bad price...)."""

    status = 422

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Conflict(CrmError):
    """The record's state does not allow the operation (wrong workflow step, already claimed...)."""

    status = 409
