"""The CRM channel: leads and conversation summaries pushed to the tenant's CRM (HubSpot), and
the CRM's events back in (a deal reaching a stage sends the customer a message)."""
