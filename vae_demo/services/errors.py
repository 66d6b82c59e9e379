"""The one error a person or an API caller sees as it is: a one-line message about their input."""


class UserInputError(ValueError):
    """Bad input from a person or an API caller; the message is one line, shown as-is."""
