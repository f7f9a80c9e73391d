"""The issue's "done when", on the demo data: a clerk finds a secondary number, is stopped until the
disclosure is recorded, completes it, and prints the receipt."""

import io
import re

from django.test import Client
from django.urls import reverse

from numbers import demo
from numbers.models import Disclosure, PhoneNumber
from numbers.sales import demo as demo_sales
from tests.numbers.sales.helpers_staff import signature_data_url


def test_demo_clerk_sells_a_secondary_number_with_the_disclosure(db):
    out = io.StringIO()
    demo.load(out)
    logins = demo_sales.load(out)
    assert ("/staff/login/" in [path for _who, path, _login in logins])
    assert "secondary numbers available at CMCC" in out.getvalue()

    client = Client(enforce_csrf_checks=True)
    client.get(reverse("staff:login"))
    response = client.post(reverse("staff:login"), {
        "username": "clerk-bj-xd", "password": demo.PASSWORD,
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
    })
    assert response.status_code == 302

    book = client.get(reverse("staff:book"), {"q": "8888", "match": "ends", "kind": "secondary"}).content.decode()
    ids = [int(i) for i in re.findall(r'href="/staff/numbers/(\d+)/"', book)]
    numbers = PhoneNumber.objects.in_bulk(ids)
    assert ids and all(numbers[i].is_secondary and numbers[i].msisdn.endswith("8888") for i in ids)
    assert "Secondary" in book and "Previous holder disconnected on" in book
    number = numbers[ids[0]]

    offer = reverse("staff:offer", args=[number.pk])
    page = client.get(offer).content.decode()
    token = client.cookies["csrftoken"].value
    assert "this number was used before" in page
    stopped = client.post(offer, {"action": "allocate", "customer_ref": "CMCC-77-0001", "csrfmiddlewaretoken": token})
    assert stopped.status_code == 400 and "Nothing was saved" in stopped.content.decode()
    assert not Disclosure.objects.filter(number=number).exists()

    done = client.post(offer, {"action": "allocate", "customer_ref": "CMCC-77-0001", "method": "esign",
                               "confirmed": "on", "signature": signature_data_url(), "csrfmiddlewaretoken": token},
                       follow=True)
    receipt = done.content.decode()
    assert done.redirect_chain[-1][0].startswith("/staff/receipts/")
    assert "This is a secondary number" in receipt and "electronic signature" in receipt
    assert "Print the receipt" in receipt and number.national in receipt
    # Another outlet's clerk cannot open it.
    other = Client()
    other.post(reverse("staff:login"), {"username": "clerk-sh-nj", "password": demo.PASSWORD})
    assert other.get(done.redirect_chain[-1][0]).status_code == 404
