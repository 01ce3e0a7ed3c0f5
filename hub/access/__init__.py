"""Who may see what, decided in one place: the hub's access service.

    rules       pure checks: the consent policy against a request, the footage window, business visibility
    grants      consent versions in force; signing policies and grants (audit entry first, checkpoint at once)
    presenting  sending signed policies and grants to the appliance over the MQTT link, its answer audited
    service     AccessService: an analyst's request checked, audited, granted and presented, or parked for the
                owner's approval; the owner's decision

Refusals are `AccessRefused` (with the HTTP status the API answers with);
the routers in `hub.api` only translate.
"""
