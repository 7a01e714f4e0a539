"""JSON API for logins, tokens and users."""

from __future__ import annotations

from flask_jwt_extended import get_jwt, jwt_required
from flask_smorest import Blueprint

from ..schemas import page_of
from . import activation, services
from .read_only import open_to_read_only
from .schemas import (
    AccessTokenSchema,
    ActivateSchema,
    ActivationCodeSchema,
    LoginSchema,
    LogoutSchema,
    MeSchema,
    TokenPairSchema,
    UserCreateSchema,
    UserPageSchema,
    UserQuerySchema,
    UserUpdateSchema,
)
from .scope import current_user
from .throttle import client_address

blp = Blueprint("auth_api", __name__, url_prefix="/api/v1", description="Logins, tokens and users")


@blp.route("/auth/login", methods=["POST"])
@open_to_read_only
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
def login(data):
    """Log in with a username (a villager's phone number) and password (a villager's PIN)."""
    user = services.login(
        data["username"], data["password"], client_address(), card_code=data.get("card_code")
    )
    return {**services.issue_tokens(user), "user": user}


@blp.route("/auth/refresh", methods=["POST"])
@open_to_read_only
@jwt_required(refresh=True, locations=["headers"])
@blp.response(200, AccessTokenSchema)
def refresh():
    """Trade a refresh token for a new access token."""
    return {"access_token": services.issue_tokens(current_user())["access_token"]}


@blp.route("/auth/logout", methods=["POST"])
@open_to_read_only
@jwt_required(locations=["headers"])
@blp.arguments(LogoutSchema, required=False)
@blp.response(204)
def logout(data):
    """End this login: the presented access token and the refresh token issued with it."""
    services.revoke(get_jwt())
    if data and data.get("refresh_token"):
        services.revoke_encoded(data["refresh_token"], current_user())


@blp.route("/auth/activate", methods=["POST"])
@open_to_read_only
@blp.arguments(ActivateSchema)
@blp.response(200, TokenPairSchema)
def activate(data):
    """A villager on the roster sets a PIN and signs in, with the card code, ID number's end or a code."""
    proof = {k: data[k] for k in ("card_code", "id_last6", "activation_code") if data.get(k)}
    user = activation.activate(data["phone"], data["pin"], proof, client_address())
    return {**services.issue_tokens(user), "user": user}


@blp.route("/households/<int:household_id>/members/<int:member_id>/activation-code", methods=["POST"])
@jwt_required()
@blp.response(201, ActivationCodeSchema)
def issue_activation_code(household_id, member_id):
    """A one-time code to print for a member without a card (clerks, admins); shown this once only."""
    return activation.issue_code(current_user(), household_id, member_id)


@blp.route("/auth/logout-all", methods=["POST"])
@open_to_read_only
@jwt_required(locations=["headers"])
@blp.response(204)
def logout_all():
    """End every token and browser session of the caller, on every device."""
    services.end_every_token(current_user())


@blp.route("/me")
@jwt_required()
@blp.response(200, MeSchema)
def me():
    """Who the token belongs to, with role and scope."""
    return current_user()


@blp.route("/users", methods=["POST"])
@jwt_required()
@blp.arguments(UserCreateSchema)
@blp.response(201, MeSchema)
def create_user(data):
    """Create a login (admins, within their scope)."""
    return services.create_user(current_user(), data)


@blp.route("/users")
@jwt_required()
@blp.arguments(UserQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(args):
    """Users in the caller's scope."""
    query = services.list_users(current_user(), args.get("village_id"))
    return page_of(query, args["page"], args["per_page"], list)


@blp.route("/users/<int:user_id>")
@jwt_required()
@blp.response(200, MeSchema)
def get_user(user_id):
    return services.get_user(current_user(), user_id)


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@jwt_required()
@blp.arguments(UserUpdateSchema)
@blp.response(200, MeSchema)
def update_user(data, user_id):
    """Change a user; `{"active": false}` locks them out on their very next request."""
    return services.update_user(current_user(), user_id, data)
