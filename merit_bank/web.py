"""HTML shell shared by every domain: login, logout, home, language, admin pages, API docs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_jwt_extended import decode_token, set_access_cookies, unset_jwt_cookies
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from .auth import policy, sessions
from .auth import services as auth_services
from .auth.models import COUNCILS, ROLES, User
from .auth.read_only import open_to_read_only
from .auth.schemas import UserCreateSchema
from .auth.throttle import client_address
from .database import utcnow
from .errors import DomainError, Forbidden, ValidationFailed, handle_http_exception, wants_problem_json
from .extensions import csrf, db
from .form_errors import form_errors
from .households import policy as household_policy
from .households import services as household_services
from .households.schemas import HouseholdCreateSchema
from .inputs import normalize_phone, parse_id
from .paging import paginate
from .qr import png_data_uri, qr_png
from .villages import policy as village_policy
from .villages import regions
from .villages import services as village_services
from .villages.models import COUNTY, TOWNSHIP
from .villages.schemas import RegionCreateSchema, VillageCreateSchema, VillageUpdateSchema

bp = Blueprint("web", __name__)

# Domains add their pages to the menu and sections to the villager's home here (from their views.py),
# so the shell never needs editing when a domain grows a page.
NavItem = dict[str, str]


def configure(
    app: Flask,
    *,
    nav: Sequence[Callable[[User], list[NavItem]]],
    villager_sections: Sequence[str],
    board_sections: Sequence[str],
) -> None:
    """What the menu, a villager's home page and the public notice board (公示栏, given `village`) gather
    from the domains, in this order (create_app)."""
    app.extensions["merit_bank.web"] = {
        "nav": tuple(nav),
        "villager_sections": tuple(villager_sections),
        "board_sections": tuple(board_sections),
    }


def csrf_for_forms() -> None:
    """Every HTML form post carries Flask-WTF's token; the JSON API is covered by JWT's double submit."""
    if request.method == "POST" and not request.path.startswith("/api/"):
        csrf.protect()


@bp.app_errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError):
    """A form whose CSRF check failed, most often because the browser dropped its session cookie (WeChat's
    WebView may when it restores a page): the same page again, with what was typed and a plain request to
    tap once more, instead of a bare 400. Its new form carries a new token, so the second tap goes through.
    """
    if request.path.startswith("/api/") or wants_problem_json():
        return handle_http_exception(exc)
    g.csrf_retry = _(
        "The page had been open for a long time and your phone forgot it. "
        "Please check what you entered and tap the button again."
    )
    try:
        endpoint, args = current_app.url_map.bind_to_environ(request.environ).match(method="GET")
        # Shown, not handled: the page's GET view draws the form again (request.form keeps what was typed).
        request.method = "GET"
        response = current_app.make_response(current_app.view_functions[endpoint](**args))
    except (HTTPException, DomainError):
        # No page of its own (POST /logout), or the page refuses now: a short page and a way back.
        back = _safe_next(urlsplit(request.referrer or "").path or None)
        return render_template("errors/retry.html", back=back), 400
    if response.status_code == 200:
        response.status_code = 400
    return response


def page_user() -> User | None:
    """The user behind the HttpOnly session cookie, or None when there is no valid session."""
    token = request.cookies.get(current_app.config["JWT_ACCESS_COOKIE_NAME"])
    if not token:
        return None
    try:
        payload = decode_token(token)
    except Exception:  # expired, forged or garbled: treat as logged out
        return None
    if payload.get("type") != "access" or not auth_services.token_is_current(payload):
        return None
    user = auth_services.load_active_user(payload["sub"])
    if user is not None:
        g.session_payload = payload
    return user


def login_required(allowed: Callable[[User], bool] | None = None) -> Callable:
    """Pages for logged-in people; others are sent to the login page and brought back after.

    `allowed` is a predicate of a domain's policy (who the page is for); without it, anyone logged in.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            user = page_user()
            if user is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if allowed is not None and not allowed(user):
                raise Forbidden("forbidden", _("This page is not for your role."))
            g.user = user
            return view(*args, **kwargs)

        return wrapper

    return decorator


def typed_code() -> str:
    """A household code posted by a staff page's code form before its script ran (kept, not yet judged)."""
    if request.method != "POST":
        return ""
    return request.form.get("code", "").strip().upper()[:12]


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect would let a phishing link borrow our login page.
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("web.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
@open_to_read_only
def login():
    error = None
    status = 200
    ask_card_code = False
    if request.method == "POST":
        card_code = request.form.get("card_code", "").strip()[:12] or None
        ask_card_code = card_code is not None
        try:
            user = auth_services.login(
                request.form.get("username", "")[:64],
                request.form.get("password", "")[:128],
                client_address(),
                card_code=card_code,
            )
        except DomainError as exc:
            status = exc.status
            if exc.code == "too-many-attempts":
                error = str(exc.detail)
                ask_card_code = ask_card_code or "second_proof" in exc.extra
            else:
                error = _("Wrong phone number/username or PIN/password.")
        else:
            return start_browser_session(user, request.args.get("next"))
    full_keyboard = request.args.get("keyboard") == "full"
    return render_template(
        "auth/login.html", error=error, ask_card_code=ask_card_code, full_keyboard=full_keyboard
    ), status


def start_browser_session(user: User, next_path: str | None):
    """Signed in: the HttpOnly session cookie, and on to where the person was going."""
    response = redirect(_safe_next(next_path))
    _set_session_cookie(response, user)
    return response


def _set_session_cookie(response, user: User) -> None:
    lifetime = sessions.lifetime(user)
    tokens = auth_services.issue_tokens(user, access_expires=lifetime)
    set_access_cookies(response, tokens["access_token"], max_age=int(lifetime.total_seconds()))


def renew_sliding_session(response):
    """A villager's long session is renewed while it is used, so it ends only after months of disuse."""
    user, payload = g.get("user"), g.get("session_payload")
    if user is not None and payload is not None and sessions.due_for_renewal(user, payload, utcnow()):
        _set_session_cookie(response, user)
    return response


@bp.post("/logout-all")
@open_to_read_only
@login_required()
def logout_all():
    """ "Log out on every device": every session and token of this person ends, this one too."""
    auth_services.end_every_token(g.user)
    response = redirect(url_for("web.login"))
    unset_jwt_cookies(response)
    return response


@bp.post("/logout")
@open_to_read_only
def logout():
    token = request.cookies.get(current_app.config["JWT_ACCESS_COOKIE_NAME"])
    if token:
        try:
            payload = decode_token(token)
        except Exception:
            payload = None
        if payload:
            auth_services.revoke(payload)
    response = redirect(url_for("web.login"))
    unset_jwt_cookies(response)
    return response


@bp.get("/lang/<code>")
def set_language(code: str):
    response = redirect(_safe_next(request.args.get("next")))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@bp.get("/")
@login_required()
def home():
    user: User = g.user
    if policy.is_villager(user):
        household = household_services.get_household(user, user.household_id or -1)
        row = household_services.with_balances([household])[0]
        session_ends = sessions.expires_at(g.session_payload) if g.get("session_payload") else None
        # The card travels inside the page (< 1 KB): a separate image would cost a round trip on every
        # visit, since the card is a credential and never cached. So the page is not cached either.
        card_src = png_data_uri(qr_png(household_services.card_token(household)))
        page = render_template("home/villager.html", row=row, session_ends=session_ends, card_src=card_src)
        return page, {"Cache-Control": "private, no-store"}
    return render_template("home/staff.html")


@bp.get("/api/docs")
def api_docs():
    """Swagger UI from vendored files, so the docs work on a village network with no internet."""
    return render_template("api_docs.html")


# --- admin pages ---------------------------------------------------------------------------------


def form_int(value: str | None) -> int | str | None:
    """A form number as int when it is one, else the raw text for the schema to refuse."""
    value = (value or "").strip()
    if not value:
        return None
    digits = value.removeprefix("-")
    return int(value) if digits.isascii() and digits.isdigit() and len(digits) < 12 else value


@bp.route("/admin/villages", methods=["GET", "POST"])
@login_required(policy.can_manage_villages)
def admin_villages():
    errors: dict[str, Any] = {}
    if request.method == "POST":
        groups = [line.strip() for line in request.form.get("groups", "").splitlines() if line.strip()]
        try:
            data = VillageCreateSchema().load(
                {"name": request.form.get("name", ""), "code": request.form.get("code", ""), "groups": groups}
            )
            village_services.create_village(g.user, data)
            return redirect(url_for("web.admin_villages"))
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
    return _villages_page(errors)


def _villages_page(errors: dict[str, Any], region_errors: dict[str, Any] | None = None, **forms: Any):
    """The villages page; `forms` carries one form's errors (order_errors, tag_errors) and its village."""
    villages = db.session.scalars(village_services.list_villages(g.user)).all()
    keeps_regions = policy.manages_regions(g.user)
    all_regions = regions.list_regions(g.user) if keeps_regions else []
    edits_tags = {v.id for v in villages if village_policy.edits_member_tags(g.user, v.id)}
    refused = errors or region_errors or forms.get("order_errors") or forms.get("tag_errors")
    return render_template(
        "admin/villages.html",
        villages=villages,
        errors=errors,
        region_errors=region_errors or {},
        keeps_regions=keeps_regions,
        counties=[r for r in all_regions if r.kind == COUNTY],
        townships=[r for r in all_regions if r.kind == TOWNSHIP],
        region_names={r.id: r.name for r in all_regions},
        edits_tags=edits_tags,
        **forms,
    ), (422 if refused else 200)


@bp.post("/admin/regions")
@login_required(policy.manages_regions)
def admin_create_region():
    """A county, or a township in a county, from the villages page."""
    try:
        data = RegionCreateSchema().load(
            {
                "name": request.form.get("name", ""),
                "kind": request.form.get("kind", ""),
                "parent_id": form_int(request.form.get("parent_id")),
            }
        )
        regions.create_region(g.user, data)
    except (ValidationError, DomainError) as exc:
        return _villages_page({}, form_errors(exc))
    return redirect(url_for("web.admin_villages"))


@bp.post("/admin/villages/<int:village_id>/region")
@login_required(policy.manages_regions)
def admin_place_village(village_id: int):
    """Move a village into a township (or out of every region)."""
    try:
        data = VillageUpdateSchema(only=("region_id",)).load(
            {"region_id": form_int(request.form.get("region_id"))}
        )
        regions.place_village(g.user, village_id, data["region_id"])
    except (ValidationError, DomainError) as exc:
        if isinstance(exc, DomainError) and exc.status == 404:
            raise
        return _villages_page({}, form_errors(exc))
    return redirect(url_for("web.admin_villages"))


@bp.post("/admin/villages/<int:village_id>/member-tags")
@login_required(policy.can_manage_villages)
def admin_member_tags(village_id: int):
    """The village's list of member tags: one a line (or separated by 、 , ；)."""
    tags = household_services.split_tags(request.form.get("member_tags", "").replace("\n", "、"))
    try:
        village_services.set_member_tags(g.user, village_id, tags)
        return redirect(url_for("web.admin_villages"))
    except DomainError as exc:
        errors = form_errors(exc)
    return _villages_page({}, tag_errors=errors, tag_village_id=village_id)


@bp.post("/admin/villages/<int:village_id>/group-order")
@login_required(policy.can_manage_villages)
def admin_group_order(village_id: int):
    """Set each group's place in the village's order; a blank box: the order of the group's name."""
    positions: dict[int, int | None] = {}
    errors: dict[str, Any] = {}
    for key, raw in request.form.items():
        if not key.startswith("position-") or not key[9:].isdigit() or len(key) > 20:
            continue
        value = raw.strip()
        if not value:
            positions[int(key[9:])] = None
        elif value.isascii() and value.isdigit() and len(value) <= 4:
            positions[int(key[9:])] = int(value)
        else:
            errors = form_errors(
                ValidationFailed(errors={"position": [_("A whole number from 0 to 9999, or blank.")]})
            )
            break
    if not errors:
        try:
            village_services.set_group_positions(g.user, village_id, positions)
            return redirect(url_for("web.admin_villages"))
        except DomainError as exc:
            errors = form_errors(exc)
    return _villages_page({}, order_errors=errors, order_village_id=village_id)


@bp.route("/admin/households", methods=["GET", "POST"])
@login_required(policy.can_keep_households)
def admin_households():
    errors: dict[str, Any] = {}
    villages = db.session.scalars(village_services.list_villages(g.user)).all()
    if request.method == "POST":
        members = []
        names = request.form.getlist("member_name")
        phones = request.form.getlist("member_phone")
        ids = request.form.getlist("member_id_number")
        relations = request.form.getlist("member_relation")
        for name, phone, id_number, relation in zip(names, phones, ids, relations, strict=False):
            if name.strip():
                members.append(
                    {
                        "name": name,
                        "phone": normalize_phone(phone) or None,
                        "id_number": id_number.strip() or None,
                        "relation": relation.strip() or None,
                    }
                )
        try:
            village_id = int(request.form.get("village_id", "0") or 0)
            data = HouseholdCreateSchema().load(
                {
                    "village_id": village_id,
                    "head_name": request.form.get("head_name", ""),
                    "group": request.form.get("group") or None,
                    "address": request.form.get("address") or None,
                    "members": members,
                }
            )
            household_services.create_household(g.user, data)
            return redirect(url_for("web.admin_households"))
        except ValueError:
            errors = {"village_id": [_("Choose a village.")]}
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
    q = request.args.get("q", "")[:50]
    pager = paginate(household_services.search_households(g.user, None, q or None))
    rows = household_services.with_balances(pager.items)
    return render_template(
        "admin/households.html", rows=rows, pager=pager, villages=villages, errors=errors, q=q
    ), (422 if errors else 200)


@bp.route("/admin/households/<int:household_id>", methods=["GET", "POST"])
@login_required(policy.can_keep_households)
def admin_household(household_id: int):
    """One household's members; staff of its village tick each member's tags (党员, 村干部 …)."""
    household = household_services.get_household(g.user, household_id)
    errors: dict[str, Any] = {}
    if request.method == "POST":
        chosen = {m.id: request.form.getlist(f"tags-{m.id}") for m in household.members}
        try:
            household_services.set_household_tags(g.user, household.id, chosen)
            return redirect(url_for("web.admin_household", household_id=household.id, saved=1))
        except DomainError as exc:
            errors = form_errors(exc)
    row = household_services.with_balances([household])[0]
    return render_template(
        "admin/household.html",
        household=household,
        row=row,
        tags=household.village.tag_list,
        can_tag=household_policy.tags_members(g.user, household.village_id),
        saved=bool(request.args.get("saved")),
        errors=errors,
    ), (422 if errors else 200)


@bp.route("/admin/users", methods=["GET", "POST"])
@login_required(policy.can_manage_users)
def admin_users():
    errors: dict[str, Any] = {}
    if request.method == "POST":
        raw: dict[str, Any] = {
            "username": request.form.get("username", ""),
            "password": request.form.get("password", ""),
            "role": request.form.get("role", ""),
            "display_name": request.form.get("display_name", ""),
            "councils": request.form.getlist("councils"),
        }
        for key in ("village_id", "shop_id", "member_id", "region_id"):
            value = request.form.get(key, "").strip()
            if value:
                number = parse_id(value)
                raw[key] = value if number is None else number
        try:
            auth_services.create_user(g.user, UserCreateSchema().load(raw))
            return redirect(url_for("web.admin_users"))
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
    pager = paginate(auth_services.list_users(g.user))
    villages = db.session.scalars(village_services.list_villages(g.user)).all()
    known_regions = regions.list_regions(g.user) if policy.creates_supervisors(g.user) else []
    return render_template(
        "admin/users.html",
        regions=known_regions,
        region_names={r.id: r.name for r in known_regions},
        users=pager.items,
        pager=pager,
        villages=villages,
        village_names={v.id: v.name for v in villages},
        roles=[r for r in ROLES if policy.creates_supervisors(g.user) or not policy.role_is_read_only(r)],
        councils=COUNCILS,
        errors=errors,
    ), (422 if errors else 200)


def template_globals() -> dict[str, Any]:
    """What every template may use (a context processor registered by create_app)."""
    from flask_babel import get_locale

    from .labels import claim_status_labels, council_label, role_label

    pieces = current_app.extensions["merit_bank.web"]
    return {
        "claim_status_labels": claim_status_labels,
        "council_label": council_label,
        "role_label": role_label,
        # Babel calls Simplified Chinese zh_Hans_CN (also the catalog's folder): pages test startswith("zh").
        "current_locale": str(get_locale()),
        "current_user": g.get("user"),
        "csrf_retry": g.get("csrf_retry"),
        # What the menu and the home tiles offer, asked of the policy (templates compare no roles).
        "may": _menu_permissions(g.get("user")),
        "extra_nav": lambda user: [item for provider in pieces["nav"] for item in provider(user)],
        "villager_sections": lambda household: pieces["villager_sections"],
        "board_sections": pieces["board_sections"],
        "household_views": _household_views,
    }


def _household_views(household_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The latest looks of supervisors at the household, for its own home page."""
    from .auth import audit

    return audit.view_rows(list(db.session.scalars(audit.household_views(household_id).limit(limit))))


def _menu_permissions(user: User | None) -> dict[str, bool]:
    if user is None:
        return {}
    return {
        "manage_villages": policy.can_manage_villages(user),
        "manage_users": policy.can_manage_users(user),
        "keep_households": policy.can_keep_households(user),
        # A villager's few pages are listed under the page, not in the header (large text, small phones).
        "menu_below": policy.is_villager(user),
    }
