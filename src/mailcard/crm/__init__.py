"""The CRM's reference data: customers, stores and message templates as stored data.

Owns storing, validating and importing these records (:mod:`.customers`, :mod:`.stores`,
:mod:`.templates`, :mod:`.importing`, with the shared value checks in :mod:`.fields`). It does not
send anything and does not decide who may send as whom: that is :mod:`mailcard.senders`, and who
may see or change what is :mod:`mailcard.access`.
"""

from mailcard.crm.customers import Customer, CustomerImportRow, CustomerPatch, CustomerStore, NewCustomer
from mailcard.crm.fields import UNSET, Unset
from mailcard.crm.importing import ImportResult, RowError
from mailcard.crm.stores import NewStore, Store, StoreImportRow, StorePatch, StoreStore
from mailcard.crm.templates import Template, TemplateDraft, TemplateStore

__all__ = [
    "UNSET",
    "Customer",
    "CustomerImportRow",
    "CustomerPatch",
    "CustomerStore",
    "ImportResult",
    "NewCustomer",
    "NewStore",
    "RowError",
    "Store",
    "StoreImportRow",
    "StorePatch",
    "StoreStore",
    "Template",
    "TemplateDraft",
    "TemplateStore",
    "Unset",
]
