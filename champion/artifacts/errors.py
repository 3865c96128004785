"""What can go wrong with a store that lives behind a network: it is unreachable, or a blob came back changed."""

from champion.errors import Unavailable


class StoreUnavailable(Unavailable):
    """The object store refused or did not answer: a wrong bucket, credentials or endpoint, or an outage."""


class DamagedBlob(Unavailable):
    """A downloaded blob's bytes do not hash to its digest: it was changed in the bucket, or cut short."""
