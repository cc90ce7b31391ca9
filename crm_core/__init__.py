"""CRM core: domain model, services, phone index and caller lookup, import/export, migrations."""
