-- Demo source: JLR dealer and vehicle operations (MariaDB/MySQL, utf8mb4).
-- A deliberate mix of MySQL types the pipeline must carry exactly: unsigned integers (one BIGINT
-- UNSIGNED beyond the signed range), DECIMAL, FLOAT/DOUBLE, BIT, YEAR, DATE, DATETIME(fsp),
-- TIMESTAMP, TIME, TINYINT(1), ENUM, SET, JSON, CHAR/VARCHAR/TEXT.

CREATE TABLE plants (
    plant_id          SMALLINT UNSIGNED NOT NULL,
    plant_code        CHAR(4)           NOT NULL,
    plant_name        VARCHAR(80)       NOT NULL,
    country_code      CHAR(2)           NOT NULL,
    opened_year       YEAR              NOT NULL,
    annual_capacity   INT UNSIGNED      NOT NULL,
    updated_at        DATETIME          NOT NULL,
    PRIMARY KEY (plant_id),
    UNIQUE KEY uq_plants_code (plant_code)
);

CREATE TABLE vehicle_models (
    model_id          SMALLINT UNSIGNED NOT NULL,
    brand             ENUM('Jaguar','Range Rover','Defender','Discovery') NOT NULL,
    model_name        VARCHAR(60)       NOT NULL,
    body_style        ENUM('SUV','Saloon','Sports','Estate','Pickup') NOT NULL,
    launch_year       YEAR              NOT NULL,
    is_electric       TINYINT(1)        NOT NULL DEFAULT 0,
    updated_at        DATETIME          NOT NULL,
    PRIMARY KEY (model_id)
);

CREATE TABLE model_trims (
    trim_id           INT UNSIGNED      NOT NULL,
    model_id          SMALLINT UNSIGNED NOT NULL,
    trim_name         VARCHAR(60)       NOT NULL,
    powertrain        ENUM('petrol','diesel','mhev','phev','bev') NOT NULL,
    engine_cc         SMALLINT UNSIGNED NULL,
    power_kw          SMALLINT UNSIGNED NOT NULL,
    list_price        DECIMAL(12,2)     NOT NULL,
    currency          CHAR(3)           NOT NULL,
    updated_at        DATETIME          NOT NULL,
    PRIMARY KEY (trim_id),
    KEY ix_model_trims_model (model_id)
);

CREATE TABLE dealers (
    dealer_id         INT UNSIGNED      NOT NULL,
    dealer_code       VARCHAR(12)       NOT NULL,
    dealer_name       VARCHAR(120)      NOT NULL,
    country_code      CHAR(2)           NOT NULL,
    region            VARCHAR(40)       NOT NULL,
    city              VARCHAR(80)       NOT NULL,
    opened_on         DATE              NOT NULL,
    is_active         TINYINT(1)        NOT NULL,
    customer_rating   FLOAT             NULL,
    updated_at        DATETIME          NOT NULL,
    PRIMARY KEY (dealer_id),
    UNIQUE KEY uq_dealers_code (dealer_code),
    KEY ix_dealers_updated (updated_at)
);

CREATE TABLE customers (
    customer_id       INT UNSIGNED      NOT NULL,
    first_name        VARCHAR(60)       NOT NULL,
    last_name         VARCHAR(80)       NOT NULL,
    email             VARCHAR(190)      NULL,
    phone             VARCHAR(30)       NULL,
    birth_date        DATE              NULL,
    country_code      CHAR(2)           NOT NULL,
    marketing_opt_in  TINYINT(1)        NOT NULL,
    created_at        TIMESTAMP         NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at        DATETIME(6)       NOT NULL,
    deleted_at        DATETIME(6)       NULL,
    PRIMARY KEY (customer_id),
    KEY ix_customers_updated (updated_at)
);

CREATE TABLE vehicles (
    vin               CHAR(17)          NOT NULL,
    trim_id           INT UNSIGNED      NOT NULL,
    plant_id          SMALLINT UNSIGNED NOT NULL,
    model_year        YEAR              NOT NULL,
    exterior_colour   VARCHAR(40)       NOT NULL,
    build_date        DATE              NOT NULL,
    options           JSON              NULL,
    updated_at        DATETIME(6)       NOT NULL,
    PRIMARY KEY (vin),
    KEY ix_vehicles_updated (updated_at)
);

CREATE TABLE sales_orders (
    order_id          BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    dealer_id         INT UNSIGNED      NOT NULL,
    customer_id       INT UNSIGNED      NOT NULL,
    vin               CHAR(17)          NOT NULL,
    order_date        DATETIME          NOT NULL,
    delivery_date     DATE              NULL,
    list_price        DECIMAL(12,2)     NOT NULL,
    discount_amount   DECIMAL(12,2)     NOT NULL,
    net_price         DECIMAL(12,2)     NOT NULL,
    currency          CHAR(3)           NOT NULL,
    status            ENUM('ordered','allocated','in_transit','delivered','cancelled') NOT NULL,
    sales_channel     ENUM('retail','fleet','online') NOT NULL,
    finance_products  SET('cash','pcp','lease','insurance','service_plan') NOT NULL,
    payment_reference BIGINT UNSIGNED   NULL,
    created_at        TIMESTAMP         NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at        DATETIME(6)       NOT NULL,
    deleted_at        DATETIME(6)       NULL,
    PRIMARY KEY (order_id),
    KEY ix_sales_orders_updated (updated_at),
    KEY ix_sales_orders_dealer (dealer_id)
);

CREATE TABLE parts (
    part_id           INT UNSIGNED      NOT NULL,
    part_number       VARCHAR(20)       NOT NULL,
    description       VARCHAR(200)      NOT NULL,
    category          ENUM('engine','electrical','body','suspension','infotainment','battery','brakes') NOT NULL,
    unit_cost         DECIMAL(10,2)     NOT NULL,
    weight_kg         DOUBLE            NOT NULL,
    hazard_flags      BIT(4)            NOT NULL DEFAULT b'0000',
    is_serviceable    TINYINT(1)        NOT NULL,
    updated_at        DATETIME          NOT NULL,
    PRIMARY KEY (part_id),
    UNIQUE KEY uq_parts_number (part_number)
);

CREATE TABLE warranty_claims (
    claim_id          INT UNSIGNED      NOT NULL,
    vin               CHAR(17)          NOT NULL,
    dealer_id         INT UNSIGNED      NOT NULL,
    part_id           INT UNSIGNED      NOT NULL,
    claim_date        DATE              NOT NULL,
    failure_mileage   MEDIUMINT UNSIGNED NOT NULL,
    labour_hours      DECIMAL(5,2)      NOT NULL,
    repair_time       TIME              NOT NULL,
    labour_cost       DECIMAL(10,2)     NOT NULL,
    parts_cost        DECIMAL(10,2)     NOT NULL,
    status            ENUM('submitted','approved','rejected','paid') NOT NULL,
    failure_description TEXT            NULL,
    updated_at        DATETIME          NOT NULL,
    PRIMARY KEY (claim_id),
    KEY ix_warranty_claims_updated (updated_at)
);

-- The generator's own bookkeeping for `make changes` (not a configured source table).
CREATE TABLE _demo_clock (
    id                TINYINT UNSIGNED  NOT NULL,
    seed              INT               NOT NULL,
    scale             DOUBLE            NOT NULL,
    days_applied      INT UNSIGNED      NOT NULL,
    next_order_id     BIGINT UNSIGNED   NOT NULL,
    next_customer_id  INT UNSIGNED      NOT NULL,
    next_claim_id     INT UNSIGNED      NOT NULL,
    next_vin_serial   INT UNSIGNED      NOT NULL,
    PRIMARY KEY (id)
);
