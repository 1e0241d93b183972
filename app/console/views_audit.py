"""The auditor's page: the audit log with filters, its Excel export, and the chain's state."""
from datetime import date
from io import BytesIO

from flask import current_app, render_template, request, send_file

from app.accounts import audit
from app.accounts.roles import AUDIT_ROLES
from app.console.web import bp, current_staff, login_required

PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters(args):
    def day(name):
        try:
            return date.fromisoformat(args.get(name) or "")
        except ValueError:
            return None

    return {"actor": (args.get("actor") or "").strip()[:64] or None,
            "action": (args.get("action") or "").strip()[:64] or None,
            "target": (args.get("target") or "").strip()[:64] or None, "from": day("from"), "to": day("to")}


@bp.get("/audit")
@login_required(*AUDIT_ROLES)
def audit_log():
    filters = _filters(request.args)
    page = max(request.args.get("page", 1, type=int), 1)
    listing = audit.page(filters, page, PER_PAGE)
    args = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items() if v}
    return render_template("console/audit.html", listing=listing, filters=args, page=page, per_page=PER_PAGE)


@bp.get("/audit.xlsx")
@login_required(*AUDIT_ROLES)
def audit_export():
    content, filename = audit.export(_filters(request.args), current_staff(), current_app.config["EXPORT_MAX_ROWS"],
                                     ip=request.remote_addr)
    return send_file(BytesIO(content), mimetype=XLSX, as_attachment=True, download_name=filename)
