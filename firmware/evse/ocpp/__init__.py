"""OCPP 1.6J charge point (issue 6). Entry point: `evse.ocpp.chargepoint.OcppService`."""
