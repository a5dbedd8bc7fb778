"""Migration 6: person-level compliance requests (the confirmed set of customers, the candidates, a due date).

Also supersedes pending suggestions of customers anonymized before erasure did so itself.
"""

from store.schema import Migration

STATEMENTS = (
    # customer_ids: the customers the officer confirmed as one person (the request covers all of them;
    # `customer_id` stays the first, for lists). candidates: who the lookup found and why (customer ids
    # and reasons such as "holds the e-mail address", never the values). due_at: when the answer is
    # due (one month under GDPR Art. 12(3)). status gains needs_confirmation (candidates shown, set not
    # confirmed yet), incomplete (erased, but the verification found the values elsewhere) and
    # deleted (an export whose bundle an erasure deleted).
    "ALTER TABLE compliance_requests ADD COLUMN IF NOT EXISTS customer_ids BIGINT[]",
    "ALTER TABLE compliance_requests ADD COLUMN IF NOT EXISTS candidates JSON",
    "ALTER TABLE compliance_requests ADD COLUMN IF NOT EXISTS due_at TIMESTAMP",
    "ALTER TABLE compliance_requests ADD COLUMN IF NOT EXISTS confirmed_by VARCHAR",
    """UPDATE compliance_requests SET customer_ids = [customer_id]
    WHERE customer_id IS NOT NULL AND customer_ids IS NULL""",
    """UPDATE compliance_requests SET due_at = requested_at + INTERVAL 1 MONTH WHERE due_at IS NULL""",
    """UPDATE suggestions SET status = 'superseded', status_reason = 'a customer of it was anonymized'
    WHERE status IN ('pending', 'approved', 'held') AND (
        customer_id_l IN (SELECT customer_id FROM customers WHERE status = 'anonymized')
        OR customer_id_r IN (SELECT customer_id FROM customers WHERE status = 'anonymized'))""",
)

MIGRATION = Migration(6, "person-level compliance requests", STATEMENTS, {})
