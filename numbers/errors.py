"""Domain errors: pages and the API turn them into a clear message and a stable code."""


class DomainError(Exception):
    code = "domain_error"
    # What is wrong with each field of the input, when the error is about the input (the API shows them).
    fields: dict[str, list[str]] | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidTransition(DomainError):
    code = "invalid_transition"


class NumberTaken(InvalidTransition):
    code = "number_taken"


class DisclosureRequired(DomainError):
    code = "disclosure_required"


class WrongOperator(DomainError):
    code = "wrong_operator"
