"""Every CRM table, importable from one place."""

from crm_core.models.audit import AuditEntry
from crm_core.models.base import utcnow
from crm_core.models.call import CallLink
from crm_core.models.choices import DictionaryItem, PauseReason
from crm_core.models.content import Announcement, KbArticle, KbCategory, announcement_departments
from crm_core.models.customer import Contact, Customer, CustomFieldDef, FollowUp, Phone
from crm_core.models.order import (
    Order,
    OrderEvent,
    OrderLine,
    OrderReturn,
    Product,
    ProductCategory,
    StockMovement,
    Supplier,
)
from crm_core.models.org import AuthSession, DataScope, Department, Permission, Role, Seat, User, user_roles
from crm_core.models.outbound import (
    AgentScript,
    Attempt,
    Callback,
    CallDisposition,
    Campaign,
    DispositionCode,
    DncNumber,
    Lead,
)
from crm_core.models.purchasing import ProductPrice, StockThreshold, SupplierDocument, SupplierDocumentLine
from crm_core.models.quotes import Contract, Quote, QuoteLine
from crm_core.models.sales import Opportunity, OpportunityStage
from crm_core.models.targets import SalesTarget
from crm_core.models.ticket import Attachment, Ticket, TicketEvent, TicketType
from crm_core.models.workflow import Workflow, WorkflowStep

__all__ = [
    "AgentScript",
    "Announcement",
    "Attachment",
    "Attempt",
    "AuditEntry",
    "AuthSession",
    "CallDisposition",
    "CallLink",
    "Callback",
    "Campaign",
    "Contact",
    "Contract",
    "CustomFieldDef",
    "Customer",
    "DataScope",
    "Department",
    "DictionaryItem",
    "DispositionCode",
    "DncNumber",
    "FollowUp",
    "KbArticle",
    "KbCategory",
    "Lead",
    "Opportunity",
    "OpportunityStage",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderReturn",
    "PauseReason",
    "Permission",
    "Phone",
    "Product",
    "ProductCategory",
    "ProductPrice",
    "Quote",
    "QuoteLine",
    "Role",
    "SalesTarget",
    "Seat",
    "StockMovement",
    "StockThreshold",
    "Supplier",
    "SupplierDocument",
    "SupplierDocumentLine",
    "Ticket",
    "TicketEvent",
    "TicketType",
    "User",
    "Workflow",
    "WorkflowStep",
    "announcement_departments",
    "user_roles",
    "utcnow",
]
