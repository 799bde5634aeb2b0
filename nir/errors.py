"""The errors nir raises on bad input: each says what is wrong and how to fix it."""


class NirError(Exception):
    """Base of every error nir raises on purpose."""


class NirInputError(NirError, ValueError):
    """The user's model, arguments or files are not usable as given."""
