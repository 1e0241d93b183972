"""The request parser of every API blueprint: webargs' own, except that a JSON body Python cannot turn into
values — nested deeper than its recursion limit, or a number longer than its int conversion limit — is the
same 400 as any other broken JSON rather than an exception escaping as a 500."""
import json

import flask_smorest
from webargs.flaskparser import FlaskParser, abort


class Parser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise
        except (RecursionError, ValueError) as exc:
            raise json.JSONDecodeError(type(exc).__name__, doc=" ", pos=0) from None

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(400, exc=error, messages={"json": ["请求体不是有效的 JSON（UTF-8 编码）。"]})


def install_parser():
    # Before any blueprint module is imported: @blp.arguments binds the parser when it decorates.
    flask_smorest.Blueprint.ARGUMENTS_PARSER = Parser()
