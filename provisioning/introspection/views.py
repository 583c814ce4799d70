"""POST /oauth/introspect (RFC 7662), for gateways authenticated by a client secret."""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from foundation.input_guard import has_control_characters
from provisioning.introspection.services import gateway_introspect


def client_credentials(request: HttpRequest) -> tuple[str, str]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


def malformed_client_credentials(*values: str) -> JsonResponse | None:
    """A 400 for a client id or secret carrying a control character (a NUL cannot
    even be looked up in PostgreSQL): checked before authentication, never a 500."""
    if not any(has_control_characters(value) for value in values):
        return None
    return JsonResponse(
        {
            "error": "invalid_request",
            "error_description": "The client credentials contain a control character.",
        },
        status=400,
    )


def _unauthorised() -> JsonResponse:
    response = JsonResponse(
        {"error": "invalid_client", "error_description": "Unknown client or wrong secret."},
        status=401,
    )
    response["WWW-Authenticate"] = 'Basic realm="introspection"'
    return response


# Gateways are machines authenticated by their client secret, not a browser session:
# CSRF protection does not apply to this one endpoint.
@csrf_exempt
@never_cache
@require_POST
def introspect(request: HttpRequest) -> JsonResponse:
    client_id, secret = client_credentials(request)
    token = request.POST.get("token", "")
    # A token with a NUL is merely unknown (inactive, RFC 7662); malformed credentials are not.
    malformed = malformed_client_credentials(client_id, secret)
    if malformed is not None:
        return malformed
    if not client_id or not secret:
        return _unauthorised()
    result = gateway_introspect(client_id=client_id, client_secret=secret, token=token)
    if result.client is None:
        return _unauthorised()
    if not token:
        return JsonResponse(
            {"error": "invalid_request", "error_description": "The token parameter is missing."},
            status=400,
        )
    return JsonResponse(result.answer)
