"""Messaging: e-mail (SMTP) and SMS (a pluggable gateway) to customers.

``templates`` fills customer fields into text without running any code; ``services`` keeps templates,
opt-outs and the outbox (every message is a row with its delivery status, linked to the customer and,
for service messages, to the ticket or order step that sent it); ``notify`` is what the ticket and order
workflows call; ``channels`` deliver; ``outbox`` hands queued messages to the channels; ``reports`` counts.
"""
