"""One error family: every service refusal is a DomainError whose kind is its HTTP status,
and one renderer turns it into the problem document the API and the middleware send."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation.errors import DomainError, ErrorKind
from foundation.problems import PROBLEM_CONTENT_TYPE, domain_problem, problem, problem_json
from portal.api.errors import ApiTokenError
from portal.applications.states import ApplicationChangedError, ApplicationError
from portal.certification.models import CampaignError
from portal.compliance.models import DeterminationError, InvalidDeterminationError
from portal.eligibility.services import EligibilityError
from portal.notifications.webhooks import WebhookEndpointError
from portal.partners.errors import ConflictOfInterestError as PartnerConflictOfInterest
from portal.partners.errors import DocumentRejectedError, DomainAlreadyClaimedError, PartnerError
from portal.reviews.errors import FourEyesError, ReviewError
from portal.screening.errors import ListFormatError, ScreeningError
from portal.usage.models import UsageError
from provisioning.bulk.models import BulkActionError, EmptyPlan
from provisioning.bulk.services import PlanChanged
from provisioning.credentials.models import CredentialError, SeatsExhausted
from provisioning.deliveries.models import ChangeLogAppendOnlyError, DeliveryError
from provisioning.grants.models import GrantError, IllegalGrantTransition

# The status each refusal had when the API enumerated them one by one: pinned.
STATUSES: list[tuple[type[DomainError], int]] = [
    (ApplicationError, 409),
    (ApplicationChangedError, 409),
    (ReviewError, 409),
    (FourEyesError, 409),
    (DeterminationError, 409),
    (InvalidDeterminationError, 400),
    (PartnerError, 400),
    (DomainAlreadyClaimedError, 400),
    (DocumentRejectedError, 400),
    (WebhookEndpointError, 400),
    (PartnerConflictOfInterest, 409),
    (ApiTokenError, 400),
    (EligibilityError, 400),
    (EmptyPlan, 400),
    (BulkActionError, 409),
    (PlanChanged, 409),
    (DeliveryError, 400),
    (ChangeLogAppendOnlyError, 400),
    (CredentialError, 409),
    (SeatsExhausted, 409),
    (GrantError, 409),
    (IllegalGrantTransition, 409),
    (ScreeningError, 409),
    (ListFormatError, 409),
    (CampaignError, 409),
    (UsageError, 409),
]


@pytest.mark.parametrize(("error_class", "status"), STATUSES)
def test_every_service_error_is_a_domain_error_with_its_status(
    error_class: type[DomainError], status: int
) -> None:
    assert issubclass(error_class, DomainError)
    assert error_class.kind.status == status


def test_kinds_are_the_statuses_they_become() -> None:
    assert {kind.name: kind.status for kind in ErrorKind} == {
        "INVALID": 400,
        "FORBIDDEN": 403,
        "NOT_FOUND": 404,
        "CONFLICT": 409,
        "UNAVAILABLE": 503,
    }


def test_a_refusal_renders_its_message_and_field() -> None:
    body = domain_problem(PartnerError("Name the organisation.", field="name"), instance="/x/")
    assert body == {
        "type": "https://clearance.invalid/problems/invalid-request",
        "title": "The request is not valid",
        "status": 400,
        "detail": "Name the organisation.",
        "instance": "/x/",
        "errors": [{"field": "name", "message": "Name the organisation."}],
    }


def test_a_class_level_field_names_the_field() -> None:
    body = domain_problem(EmptyPlan("The filter matches nothing."))
    assert body["errors"] == [{"field": "filters", "message": "The filter matches nothing."}]


def test_a_conflict_without_a_field_has_no_errors_list() -> None:
    body = domain_problem(GrantError("This grant is revoked; issue a new one."))
    assert body == {
        "type": "https://clearance.invalid/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "This grant is revoked; issue a new one.",
    }


def test_an_invalid_determination_without_a_field_names_none() -> None:
    body = domain_problem(InvalidDeterminationError("The date is out of range."))
    assert body["status"] == 400
    assert "errors" not in body


def test_a_code_is_carried_when_given() -> None:
    error = DeterminationError("Approve it first.", code="needs-approval")
    assert domain_problem(error)["code"] == "needs-approval"
    assert "code" not in domain_problem(DeterminationError("Approve it first."))


def test_problem_json_is_a_problem_response() -> None:
    response = problem_json(problem(413, "The request body is too large."))
    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert json.loads(response.content) == {
        "type": "https://clearance.invalid/problems/too-large",
        "title": "Request too large",
        "status": 413,
        "detail": "The request body is too large.",
    }


def test_the_page_middleware_does_not_import_the_api_package() -> None:
    import portal.web.middleware as middleware

    assert "portal.api" not in Path(middleware.__file__).read_text(encoding="utf-8")
