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


class InvalidFieldError(InvalidArgumentError):
    """One field of a request is at fault: `field` is its path as the client wrote it
    (`items[0].approve.approvalId`), `problem` what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class OutOfRangeError(ApiError):
    code = Code.OUT_OF_RANGE


class TooLargeError(ApiError):
    """A request body past the size limit."""

    code = Code.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


class FailedPreconditionError(ApiError):
    code = Code.FAILED_PRECONDITION


class UnavailableError(ApiError):
    code = Code.UNAVAILABLE


HTTP_STATUS = {
    Code.NOT_FOUND: HTTPStatus.NOT_FOUND,
    Code.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    Code.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    Code.RESOURCE_EXHAUSTED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    Code.FAILED_PRECONDITION: HTTPStatus.CONFLICT,
    Code.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    Code.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
}
