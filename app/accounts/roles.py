"""The staff roles: their one definition.

A role is a name stored in staff_users.role, a label for the console, and the groups it belongs to. Code asks
about the groups (UNIT_ROLES, OFFICE_ROLES, ADMIN_ROLES, ACCOUNT_ROLES, AUDIT_ROLES), never about role names.
To add a role: add a Role to ROLES with its flags, and write a migration for the CHECK constraint on
staff_users.role, which is built from STAFF_ROLES (keep the order: the constraint's text follows it). A role
with no flag set belongs to no group: it can log in, and reaches only what is opened to it by name.

三员分立 (issue 15.4): admin = 系统管理员 (system settings: plans), security_admin = 安全管理员 (accounts, roles,
unlocks), auditor = 审计管理员 (the only reader of the audit log); none of the three does another's duty.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    unit: bool = False  # belongs to a unit and acts for it: answers its tickets, drafts its progress
    office: bool = False  # sees every unit's work and acts as the task-force office (专班办公室)
    admin: bool = False  # system settings: imports plans and switches the current one
    accounts: bool = False  # manages staff accounts: creates, disables, resets, changes roles, unlocks
    audit: bool = False  # reads the audit log


UNIT_STAFF, UNIT_ADMIN, OFFICE, ADMIN = "unit_staff", "unit_admin", "office", "admin"
SECURITY_ADMIN, AUDITOR = "security_admin", "auditor"

ROLES = (
    Role(UNIT_STAFF, "单位工作人员", unit=True),
    Role(UNIT_ADMIN, "单位管理员", unit=True),
    Role(OFFICE, "专班办公室", office=True),
    Role(ADMIN, "系统管理员", office=True, admin=True),
    Role(SECURITY_ADMIN, "安全管理员", accounts=True),
    Role(AUDITOR, "审计管理员", audit=True),
)

STAFF_ROLES = tuple(role.name for role in ROLES)
ROLE_LABELS = {role.name: role.label for role in ROLES}
UNIT_ROLES = tuple(role.name for role in ROLES if role.unit)
OFFICE_ROLES = tuple(role.name for role in ROLES if role.office)
ADMIN_ROLES = tuple(role.name for role in ROLES if role.admin)
ACCOUNT_ROLES = tuple(role.name for role in ROLES if role.accounts)
AUDIT_ROLES = tuple(role.name for role in ROLES if role.audit)
# 三员分立: the roles of a duty (accounts, the audit log) do no casework.
DUTY_ROLES = tuple(role.name for role in ROLES if role.accounts or role.audit)
