"""Swagger UI assets served by the app itself (government intranets have no internet)."""
from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, send_from_directory

ASSETS = Path(swagger_ui_bundle.swagger_ui_path)

bp = Blueprint("docs_assets", __name__)


@bp.get("/api/v1/docs-assets/<path:filename>")
def asset(filename):
    return send_from_directory(ASSETS, filename, max_age=86400)


def init_app(app):
    app.register_blueprint(bp)
