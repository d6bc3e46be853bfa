"""The SIPp scenario of the load generator (UAC), written into the run directory.

One call: INVITE, the switch's digest challenge (401 or 407) answered with the
credentials given by `-au`/`-ap`, ringing, 200, ACK, hold (`-d`), BYE. The offer
carries an SDP, but no RTP is sent: signalling load only (docs/load.md).

Response-time counters (SIPp `rtd`, reported in the statistics file and per call in
the `-trace_rtt` file):

* rtd 1 "setup": the authenticated INVITE -> 200 OK (the switch plus the far end;
  the load sink answers at once, so this is the switch's own set-up time under load).

Keywords given on the command line with `-key`: `caller`, `domain`; the hold is
rendered in (`uac_scenario(hold_s)`), as a receive with a timeout rather than a pause,
so that a 180 arriving after the 200 (seen here: Kamailio's two UDP workers forwarded
the 180 after the 200 in about 1 call of 500) is absorbed, not counted as a failure.
"""

from __future__ import annotations

_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="beta-harness background load (UAC, digest auth)">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[domain]>;tag=[pid]load[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: beta-harness-load (SIPp)
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=load 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="401" auth="true" optional="true" next="challenged"/>
  <recv response="407" auth="true"/>
  <label id="challenged"/>

  <send>
    <![CDATA[
      ACK sip:[service]@[domain] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>

  <send retrans="500" start_rtd="1">
    <![CDATA[
      INVITE sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[domain]>;tag=[pid]load[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      [authentication]
      Max-Forwards: 70
      User-Agent: beta-harness-load (SIPp)
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=load 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="1"/>

  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[domain]>;tag=[pid]load[call_number]
      [last_To:]
      Call-ID: [call_id]
      [routes]
      CSeq: 2 ACK
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>

  <!-- the hold: a 180 the switch forwards after the 200 (two workers racing) is
       absorbed here instead of aborting the call; a timeout ends the hold -->
  <recv response="180" timeout="{hold_ms}" ontimeout="hangup"/>
  <recv response="180" timeout="{hold_ms}" ontimeout="hangup"/>
  <label id="hangup"/>

  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[domain]>;tag=[pid]load[call_number]
      [last_To:]
      Call-ID: [call_id]
      [routes]
      CSeq: 3 BYE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>

  <recv response="200" crlf="true"/>

  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000, 2000"/>
  <CallLengthRepartition value="1000, 5000, 10000, 30000"/>
</scenario>
"""

def uac_scenario(hold_s: float) -> str:
    return _UAC.replace("{hold_ms}", str(max(1, int(round(hold_s * 1000)))))


# The load sink: answers every call at once (180, 200 with an SDP), echoing the
# switch's Record-Route so in-dialog requests go back through it.
UAS_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="beta-harness load sink (UAS)">
  <recv request="INVITE" crlf="true"/>

  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]sink[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:sink@[local_ip]:[local_port]>
      Content-Length: 0
    ]]>
  </send>

  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]sink[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:sink@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sink 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>

  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>

  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""
