<?xml version="1.0" encoding="utf-8"?>
<!-- adql-gateway integration tests: a small deterministic catalogue served by a real
  GAVO DaCHS so the gateway can be tested against an external TAP service.
  Installed and imported by tests/install_dachs.sh; the CSV inputs come from
  tests/dachs/gendata.py (fixed seed, standard library only). -->
<resource schema="fedtest">
  <meta name="title">adql-gateway test catalogue</meta>
  <meta name="description">Synthetic stars in five small fields plus an all-sky
    sprinkle, for the adql-gateway federation tests.  Not real data.</meta>
  <meta name="creationDate">2025-01-01T00:00:00</meta>
  <meta name="subject">catalogs</meta>
  <meta name="creator.name">adql-gateway developers</meta>
  <meta name="contact.name">adql-gateway developers</meta>
  <meta name="contact.email">nobody@example.invalid</meta>
  <meta name="referenceURL">http://127.0.0.1/</meta>
  <meta name="source">Synthetic</meta>
  <meta name="content.type">Catalog</meta>

  <table id="stars" onDisk="True" adql="True" primary="id">
    <meta name="description">Synthetic point sources (deterministic).</meta>
    <!-- a pgsphere spoint index on (ra, dec), which DaCHS uses for CONTAINS -->
    <mixin>//scs#pgs-pos-index</mixin>
    <column name="id" type="bigint" required="True" ucd="meta.id;meta.main"
      description="Source number" verbLevel="1"/>
    <column name="ra" type="double precision" unit="deg" ucd="pos.eq.ra;meta.main"
      description="Right ascension, ICRS" verbLevel="1"/>
    <column name="dec" type="double precision" unit="deg" ucd="pos.eq.dec;meta.main"
      description="Declination, ICRS" verbLevel="1"/>
    <column name="gmag" type="real" unit="mag" ucd="phot.mag;em.opt.B"
      description="g magnitude" verbLevel="1"/>
    <column name="rmag" type="real" unit="mag" ucd="phot.mag;em.opt.R"
      description="r magnitude" verbLevel="1"/>
    <column name="imag" type="real" unit="mag" ucd="phot.mag;em.opt.I"
      description="i magnitude; NULL for a few percent of the rows" verbLevel="1"/>
    <column name="otype" type="text" ucd="src.class"
      description="Object class: star, galaxy or qso" verbLevel="1"/>
  </table>

  <table id="fields" onDisk="True" adql="True" primary="name">
    <meta name="description">The fields the sources cluster in.</meta>
    <column name="name" type="text" required="True" ucd="meta.id;meta.main"
      description="Field name" verbLevel="1"/>
    <column name="ra" type="double precision" unit="deg" ucd="pos.eq.ra;meta.main"
      description="Field centre RA" verbLevel="1"/>
    <column name="dec" type="double precision" unit="deg" ucd="pos.eq.dec;meta.main"
      description="Field centre Dec" verbLevel="1"/>
    <column name="radius" type="double precision" unit="deg" ucd="phys.angSize"
      description="Field radius" verbLevel="1"/>
  </table>

  <data id="import_stars">
    <sources>data/stars.csv</sources>
    <csvGrammar/>
    <make table="stars">
      <rowmaker idmaps="*"/>
    </make>
  </data>

  <data id="import_fields">
    <sources>data/fields.csv</sources>
    <csvGrammar/>
    <make table="fields">
      <rowmaker idmaps="*"/>
    </make>
  </data>

  <!-- Simple Cone Search 1.03 over the stars (RA, DEC, SR, VERB): the federation's scs kind
    is tested against it at /fedtest/q/cone/scs.xml -->
  <service id="cone" allowed="scs.xml,form">
    <meta name="title">adql-gateway test cone search</meta>
    <meta name="shortName">fedtest cone</meta>
    <meta name="testQuery.ra">53.2</meta>
    <meta name="testQuery.dec">-28.1</meta>
    <meta name="testQuery.sr">0.1</meta>
    <scsCore queriedTable="stars">
      <FEED source="//scs#coreDescs"/>
    </scsCore>
    <publish render="scs.xml" sets="local"/>
  </service>

  <!-- Spectra for the SSAP service (metadata only: the accrefs name no real files) -->
  <table id="spectra" onDisk="True" adql="True">
    <meta name="description">Synthetic spectrum metadata (deterministic).</meta>
    <mixin fluxUnit="erg/(s.cm**2.Angstrom)" spectralUnit="m" fluxCalibration="UNCALIBRATED"
      >//ssap#hcd</mixin>
  </table>

  <data id="import_spectra">
    <sources>data/spectra.csv</sources>
    <csvGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"fedtest.spectra"</bind>
        <bind key="accref">"fedtest/spectra/"+@name</bind>
        <bind key="path">"fedtest/data/spectra.csv"</bind>
        <bind key="fsize">1000</bind>
        <bind key="mime">"application/x-votable+xml"</bind>
      </rowfilter>
    </csvGrammar>
    <make table="spectra">
      <rowmaker idmaps="*">
        <apply procDef="//ssap#setMeta">
          <bind key="pubDID">"ivo://adqlgw.test/fedtest?"+@name</bind>
          <bind key="dstitle">"Synthetic spectrum "+@name</bind>
          <bind key="targname">@name</bind>
          <bind key="alpha">float(@ra)</bind>
          <bind key="delta">float(@dec)</bind>
          <bind key="dateObs">float(@mjd)</bind>
          <bind key="specstart">float(@wmin)</bind>
          <bind key="specend">float(@wmax)</bind>
          <bind key="length">1000</bind>
        </apply>
      </rowmaker>
    </make>
  </data>

  <!-- Simple Spectral Access 1.1 over the spectra: the ssap kind is tested against it at
    /fedtest/q/ssa/ssap.xml -->
  <service id="ssa" allowed="ssap.xml,form">
    <meta name="title">adql-gateway test spectra</meta>
    <meta name="shortName">fedtest ssa</meta>
    <meta name="ssap.dataSource">survey</meta>
    <meta name="ssap.creationType">archival</meta>
    <meta name="ssap.testQuery">MAXREC=1</meta>
    <ssapCore queriedTable="spectra">
      <FEED source="//ssap#hcd_condDescs"/>
    </ssapCore>
    <publish render="ssap.xml" sets="local"/>
  </service>

  <!-- Images for SIAv2 (metadata only): the WCS keys come from images.csv, DaCHS computes
    the footprints; published to ivoa.obscore, which DaCHS's sitewide SIAv2 service
    (/__system__/siap2/sitewide/siap2.xml) queries -->
  <table id="images" onDisk="True" adql="True">
    <meta name="description">Synthetic image footprints (deterministic).</meta>
    <mixin>//siap#pgs</mixin>
    <mixin
      calibLevel="2"
      collectionName="'fedtest'"
      facilityName="'adqlgw test'"
      targetName="imageTitle"
      expTime="60"
      >//obscore#publishSIAP</mixin>
  </table>

  <data id="import_images">
    <sources>data/images.csv</sources>
    <csvGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"fedtest.images"</bind>
        <bind key="accref">"fedtest/images/"+@name</bind>
        <bind key="path">"fedtest/data/images.csv"</bind>
        <bind key="fsize">1000</bind>
        <bind key="mime">"image/fits"</bind>
      </rowfilter>
    </csvGrammar>
    <make table="images">
      <!-- no idmaps: the procs below fill the row itself, and idmaps would overwrite it -->
      <rowmaker>
        <!-- the CSV grammar gives strings; the WCS code wants numbers -->
        <apply name="numericWCS">
          <code>
            for key in ["NAXIS", "NAXIS1", "NAXIS2"]:
              vars[key] = int(vars[key])
            for key in ["CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2"]:
              vars[key] = float(vars[key])
          </code>
        </apply>
        <apply procDef="//siap#computePGS"/>
        <apply procDef="//siap#setMeta">
          <bind key="title">"Synthetic image "+@name</bind>
          <bind key="instrument">"adqlgw test camera"</bind>
          <bind key="dateObs">float(@mjd)</bind>
          <bind key="bandpassId">"V"</bind>
          <bind key="bandpassLo">float(@wmin)</bind>
          <bind key="bandpassHi">float(@wmax)</bind>
          <bind key="bandpassRefval">(float(@wmin)+float(@wmax))/2</bind>
          <bind key="bandpassUnit">"m"</bind>
        </apply>
      </rowmaker>
    </make>
  </data>
</resource>
