"""The partner dashboard costs the same queries whether the organisation holds little or much.

The load benchmark (``bench/web.py``) times it at 100,000 grants; this keeps the page from
growing a query per member, document, grant or key on the way there (DESIGN.md §7).
"""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.partners.documents import organisation_document_upload
from portal.partners.models import DocumentKind, MemberRole
from tests.conftest import client_for
from tests.factories import StageFactory, UserFactory, add_member
from tests.provisioning_fakes import active_grant, issue

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _grow(organisation, admin, *, members: int, documents: int, keys: int) -> None:
    for _ in range(members):
        add_member(organisation, UserFactory(), MemberRole.MEMBER)
    for index in range(documents):
        organisation_document_upload(
            actor=admin,
            organisation=organisation,
            kind=DocumentKind.CERTIFICATE_OF_INCORPORATION,
            upload=io.BytesIO(PDF),
            original_name=f"certificate-{index}.pdf",
        )
    grant = active_grant(organisation=organisation, stage=StageFactory(seats=keys + 5))
    for _ in range(keys):
        issue(grant)


@pytest.mark.parametrize("url_name", ["partners:organisation", "credentials:list"])
def test_the_partner_pages_cost_the_same_queries_for_many_rows_as_for_few(
    partner_admin, organisation, url_name
):
    # given an organisation with a little of everything
    client = client_for(partner_admin)
    url = reverse(url_name)
    _grow(organisation, partner_admin, members=1, documents=1, keys=2)
    client.get(url)  # the session and the caches are warm from here on
    few = _queries(client, url)

    # when it grows tenfold
    _grow(organisation, partner_admin, members=12, documents=8, keys=30)

    # then the page costs the same
    assert _queries(client, url) == few
