"""Service errors of the api, and the one table that maps them to ConnectRPC codes and HTTP statuses."""

from __future__ import annotations

from http import HTTPStatus

from connectrpc.code import Code

from reliant.errors import ReliantError


class ApiError(ReliantError):
    code = Code.INTERNAL

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class NotFoundError(ApiError):
    code = Code.NOT_FOUND


class InvalidArgumentError(ApiError):
    code = Code.INVALID_ARGUMENT


class FailedPreconditionError(ApiError):
    code = Code.FAILED_PRECONDITION


class UnavailableError(ApiError):
    code = Code.UNAVAILABLE


HTTP_STATUS = {
    Code.NOT_FOUND: HTTPStatus.NOT_FOUND,
    Code.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    Code.FAILED_PRECONDITION: HTTPStatus.CONFLICT,
    Code.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    Code.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
}
