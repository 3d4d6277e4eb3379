"""The commented starter configuration `huitong init` writes."""

STARTER_CONFIG = """\
# Huitong configuration. Check it with `huitong check`; run it with `huitong sync`.
# Secrets never go in this file: reference the environment (${NAME}, ${NAME:-default}) or a file
# (${file:/run/secrets/name}). Relative paths are relative to this file.

hub:
  database_url: sqlite:///huitong.db      # or postgresql://user@host/db for several workers
  default_region: CN                       # phones without +country code are read in this region
  timezone: Asia/Shanghai                  # naive timestamps from your systems are in this zone
  batch_size: 2000                         # records per transaction (and per checkpoint)

# Custom fields, typed: text, int, decimal, bool, date, datetime, email, phone.
custom_fields:
  Company:
    credit_limit: decimal
  Person: {}

systems:
  # One entry per application instance. `options` are the connector's own; `objects` say which
  # mapping spec (mappings/*.yaml, or builtin:<kind>/<object>) reads each object.
  crm-export:
    kind: csv
    options:
      directory: exports/crm
      objects:
        contacts: {file: contacts.csv, id_column: Contact ID, modified_column: Last Modified}
    objects:
      contacts: {mapping: mappings/crm_contacts.yaml}

  # hubspot-prod:
  #   kind: hubspot
  #   secrets:
  #     token: ${HUBSPOT_TOKEN}
  #   objects:
  #     contacts: {mapping: builtin:hubspot/contacts, direction: both}

# Which value wins when linked records disagree: priority (ordered systems), latest (newest change),
# most_complete, most_frequent. A person can pin a value; pinned values win until unpinned.
survivorship:
  default: {rule: priority, systems: [crm-export]}
  fields:
    Person.email: {rule: latest}

# Records no shared key links are scored (Fellegi-Sunter, weights learned by `huitong dedupe`, which
# also builds the blocking index; until then matching is deterministic). Thresholds are probabilities.
match:
  link_threshold: 0.9       # at or above: linked automatically
  review_threshold: 0.5     # between the two: a person decides (huitong review)
  # person:                 # which fields are compared and how; see hub/identity/scorer.py
  #   comparisons: [...]
  #   blocking: [...]

schedules: {}
"""
