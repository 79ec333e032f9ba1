"""What markers declares to the permission engine (PRE-01, PRE-02). The register is the
security manager's to keep and read whole; anyone who plans a visit learns the markers
for that person and place through the pre-visit check, and every such read is audited."""

from lonewatch.core.permissions import (
               CHANGE,
               VIEW,
               Paths,
               Reach,
               declare_kind,
               declare_record,
               grant,
)
from lonewatch.markers.models import Marker
from lonewatch.org.roles import Role

MARKER = declare_kind("marker", actions=(VIEW, CHANGE))
# PRE-04: the pre-visit check, for whoever plans a visit.
PRECHECK = declare_kind("precheck", actions=(VIEW,))

declare_record(Marker, kind=MARKER,
               reach=lambda m: Reach(None, None, None, m.organisation_id),
               paths=Paths(organisation="organisation_id"))

grant({Role.SECURITY_MANAGER}, MARKER, VIEW, CHANGE)
grant({Role.LONE_WORKER, Role.LINE_MANAGER, Role.SENIOR_MANAGER, Role.SECURITY_MANAGER},
      PRECHECK, VIEW)
