"""Who is calling: users and their roles, password login, sessions, API tokens.

Owns authentication and the :class:`Principal` every API call runs as. It does not decide what a
principal may do with a customer or a sender address; :mod:`mailcard.access` does.
"""

from mailcard.identity.principal import Principal, Role
from mailcard.identity.users import NewUser, User, UserPatch, UserStore

__all__ = ["NewUser", "Principal", "Role", "User", "UserPatch", "UserStore"]
