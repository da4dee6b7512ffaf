"""The Ductape guide's walkthrough (seeds/003) with the hush Python SDK: create a secret with
metadata, list (metadata only), fetch (decrypted), update value and metadata, revoke, delete,
and the 409 and 403 error handling.

Run against a server (``hush server`` prints a first admin token)::

    HUSH_ADDR=http://127.0.0.1:8270 HUSH_TOKEN=hush_… PYTHONPATH=sdk/python/src \\
        python3 sdk/python/examples/ductape.py
"""

from __future__ import annotations

import time

from hush import Client, ExistsError, ForbiddenError, HushError, NotFoundError, RevokedError


def walkthrough(client: Client) -> None:
    # Create a Secret
    secret = client.secrets.create(
        {
            "key": "STRIPE_API_KEY",
            "value": "sk_live_51ABC123...",
            "description": "Production Stripe API key for payment processing",
            "token_type": "api",
            "scope": ["stripe_payments", "checkout_service"],
            "envs": ["prd", "staging"],
            "expires_at": int(time.time()) + 365 * 24 * 60 * 60,  # 1 year from now
        }
    )
    print("Secret created:", secret.key)

    # List All Secrets: metadata only, never values
    for s in client.secrets.fetch_all():
        print(f"{s.key}: {s.description or 'No description'}")
        print(f"  Type: {s.token_type or 'Not specified'}")
        print(f"  Scope: {', '.join(s.scope) or 'All apps'}")
        print(f"  Environments: {', '.join(s.envs) or 'All environments'}")

    # Fetch a Single Secret, with its decrypted value
    fetched = client.secrets.fetch("STRIPE_API_KEY")
    print("Key:", fetched.key)
    print("Value:", fetched.value)  # a hush.Secret: prints [redacted]; .expose() gives the text
    print("Description:", fetched.description)
    print(f"(value of {len(fetched.value.expose())} characters fetched)")

    # Update a Secret: the value, and extend the expiration
    updated = client.secrets.update(
        "STRIPE_API_KEY",
        {
            "value": "sk_live_51NEW_KEY...",
            "description": "Rotated Stripe API key - January 2025",
            "expires_at": int(time.time()) + 180 * 24 * 60 * 60,  # 180 days
        },
    )
    print(f"Secret updated: {updated.key} (version {updated.version})")
    print("New expiration:", time.strftime("%Y-%m-%d", time.gmtime(updated.expires_at or 0)))

    # Update Metadata Only
    updated = client.secrets.update(
        "STRIPE_API_KEY",
        {
            "scope": ["stripe_payments", "subscription_service", "invoice_service"],
            "envs": ["dev", "staging", "prd"],
        },
    )
    print("Metadata updated: scope", ", ".join(updated.scope))

    # Error Handling
    try:
        client.secrets.create({"key": "STRIPE_API_KEY", "value": "secret_value"})
    except ExistsError:  # 409
        print("Secret with this key already exists")
    except ForbiddenError:  # 403
        print("You do not have permission to create secrets")
    except HushError as error:
        print("Failed to create secret:", error.message)

    # Revoke a Secret: kept, but no longer served (403 revoked)
    revoked = client.secrets.revoke("STRIPE_API_KEY")
    if revoked:
        print("Secret has been revoked")
    try:
        client.secrets.fetch("STRIPE_API_KEY")
    except RevokedError as error:
        print(f"Reading a revoked secret is forbidden ({error.status} {error.code})")

    # Delete a Secret
    deleted = client.secrets.delete("STRIPE_API_KEY")
    if deleted:
        print("Secret successfully deleted")
    try:
        client.secrets.fetch("STRIPE_API_KEY")
    except NotFoundError:
        print("It is gone")


if __name__ == "__main__":
    walkthrough(Client.from_env())
