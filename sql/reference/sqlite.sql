-- 双重预防机制数据中间表（参考定义） (sqlite)
-- Generated from sql/tables.yaml by `syncd ddl`. Do not edit: change the YAML and regenerate.

-- dp_hazard: 安全风险分析对象（危险源）
CREATE TABLE dp_hazard (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	hazard_code VARCHAR(36) NOT NULL,
	hazard_name VARCHAR(200) NOT NULL,
	is_major VARCHAR(1) NOT NULL,
	hazard_level VARCHAR(1),
	rvalue NUMERIC(10, 2),
	establish_date DATE,
	responsible VARCHAR(50),
	responsible_phone VARCHAR(20),
	responsible_post VARCHAR(50),
	technical VARCHAR(50),
	technical_phone VARCHAR(20),
	technical_post VARCHAR(50),
	operation VARCHAR(50),
	operation_phone VARCHAR(20),
	operation_post VARCHAR(50),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_hazard_area_code ON dp_hazard (area_code);
CREATE UNIQUE INDEX ux_dp_hazard_code ON dp_hazard (company_code, hazard_code);

-- dp_risk_unit: 安全风险分析单元
CREATE TABLE dp_risk_unit (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	hazard_code VARCHAR(36) NOT NULL,
	hazard_dep VARCHAR(200) NOT NULL,
	hazard_liable_person VARCHAR(20) NOT NULL,
	risk_unit_name VARCHAR(200) NOT NULL,
	risk_level VARCHAR(1),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_unit_area_code ON dp_risk_unit (area_code);
CREATE INDEX ix_dp_risk_unit_company_code ON dp_risk_unit (company_code);

-- dp_risk_event: 安全风险事件
CREATE TABLE dp_risk_event (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	risk_unit_id VARCHAR(36) NOT NULL,
	risk_event_name VARCHAR(500) NOT NULL,
	risk_level VARCHAR(1),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_event_area_code ON dp_risk_event (area_code);
CREATE INDEX ix_dp_risk_event_company_code ON dp_risk_event (company_code);
CREATE INDEX ix_dp_risk_event_risk_unit_id ON dp_risk_event (risk_unit_id);

-- dp_risk_measure: 安全风险管控措施
CREATE TABLE dp_risk_measure (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	risk_event_id VARCHAR(36) NOT NULL,
	data_src VARCHAR(2) NOT NULL,
	risk_measure_desc TEXT NOT NULL,
	classify1 VARCHAR(2) NOT NULL,
	classify2 VARCHAR(4) NOT NULL,
	classify3 VARCHAR(100),
	troubleshoot_content TEXT NOT NULL,
	control_level VARCHAR(20),
	post_liable_person VARCHAR(50),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_measure_company ON dp_risk_measure (company_code);
CREATE INDEX ix_dp_measure_event ON dp_risk_measure (risk_event_id);
CREATE INDEX ix_dp_risk_measure_area_code ON dp_risk_measure (area_code);

-- dp_check_task: 隐患排查任务
CREATE TABLE dp_check_task (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	risk_measure_id VARCHAR(36) NOT NULL,
	troubleshoot_content VARCHAR(1000) NOT NULL,
	check_cycle NUMERIC(6, 2) NOT NULL,
	check_cycle_unit VARCHAR(20) NOT NULL,
	task_start_time DATETIME,
	work_start_time VARCHAR(8),
	work_end_time VARCHAR(8),
	work_day_type VARCHAR(1),
	work_type VARCHAR(1) DEFAULT '0' NOT NULL,
	task_num VARCHAR(2),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_check_task_area_code ON dp_check_task (area_code);
CREATE INDEX ix_dp_check_task_company_code ON dp_check_task (company_code);
CREATE INDEX ix_dp_task_measure ON dp_check_task (risk_measure_id);

-- dp_check_record: 隐患排查记录
CREATE TABLE dp_check_record (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	check_task_id VARCHAR(36) NOT NULL,
	check_time DATETIME NOT NULL,
	check_status VARCHAR(1) NOT NULL,
	mobile_me VARCHAR(50),
	is_defend VARCHAR(1),
	create_by_mobile VARCHAR(20) NOT NULL,
	update_by_mobile VARCHAR(20) NOT NULL,
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_check_record_area_code ON dp_check_record (area_code);
CREATE INDEX ix_dp_check_record_check_time ON dp_check_record (check_time);
CREATE INDEX ix_dp_record_company ON dp_check_record (company_code);
CREATE INDEX ix_dp_record_task ON dp_check_record (check_task_id);

-- dp_hidden_danger: 隐患信息（隐患治理台账）
CREATE TABLE dp_hidden_danger (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	hazard_code VARCHAR(36) NOT NULL,
	risk_measure_id VARCHAR(36),
	check_record_id VARCHAR(36),
	danger_name VARCHAR(300) NOT NULL,
	danger_level VARCHAR(1) NOT NULL,
	regist_time DATETIME NOT NULL,
	registrant VARCHAR(100) NOT NULL,
	danger_src VARCHAR(4) NOT NULL,
	enforcement_id VARCHAR(100),
	danger_manage_type VARCHAR(1) NOT NULL,
	hazard_danger_type VARCHAR(1) NOT NULL,
	hazard_category VARCHAR(1) DEFAULT '0' NOT NULL,
	danger_desc TEXT NOT NULL,
	danger_reason TEXT,
	control_measures VARCHAR(1000),
	cost VARCHAR(100),
	liable_person VARCHAR(100) NOT NULL,
	danger_manage_deadline DATE NOT NULL,
	check_accept_person VARCHAR(50),
	check_accept_time DATE,
	check_accept_comment VARCHAR(1000),
	danger_state VARCHAR(1) NOT NULL,
	danger_img TEXT,
	danger_accept_img TEXT,
	management_classification VARCHAR(1),
	occurrence_link VARCHAR(2),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_danger_company ON dp_hidden_danger (company_code);
CREATE INDEX ix_dp_danger_record ON dp_hidden_danger (check_record_id);
CREATE INDEX ix_dp_danger_state ON dp_hidden_danger (danger_state);
CREATE INDEX ix_dp_hidden_danger_area_code ON dp_hidden_danger (area_code);

-- dp_unit_stop: 装置停用检修记录
CREATE TABLE dp_unit_stop (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	hazard_code VARCHAR(36) NOT NULL,
	risk_unit_id VARCHAR(36) NOT NULL,
	stop_start_time DATETIME NOT NULL,
	stop_end_time DATETIME,
	stop_reason VARCHAR(500),
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_unit_stop_area_code ON dp_unit_stop (area_code);
CREATE INDEX ix_dp_unit_stop_company_code ON dp_unit_stop (company_code);
CREATE INDEX ix_dp_unit_stop_risk_unit_id ON dp_unit_stop (risk_unit_id);

-- dp_risk_zone: 安全风险分区（四色图分区）
CREATE TABLE dp_risk_zone (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	zone_code VARCHAR(50) NOT NULL,
	zone_name VARCHAR(200) NOT NULL,
	risk_level VARCHAR(1) NOT NULL,
	colour VARCHAR(2) NOT NULL,
	coordinates VARCHAR(1000),
	department VARCHAR(200),
	evaluator VARCHAR(50),
	review_date DATE,
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_zone_area_code ON dp_risk_zone (area_code);
CREATE INDEX ix_dp_risk_zone_company_code ON dp_risk_zone (company_code);

-- dp_risk_map: 安全风险四色分布图
CREATE TABLE dp_risk_map (
	id VARCHAR(36) NOT NULL,
	company_code VARCHAR(9) NOT NULL,
	map_name VARCHAR(200) NOT NULL,
	file_name VARCHAR(200) NOT NULL,
	media_type VARCHAR(50) NOT NULL,
	image BLOB NOT NULL,
	deleted VARCHAR(1) DEFAULT '0' NOT NULL,
	create_date DATETIME NOT NULL,
	create_by VARCHAR(100) NOT NULL,
	update_date DATETIME NOT NULL,
	update_by VARCHAR(100) NOT NULL,
	area_code VARCHAR(12) NOT NULL,
	sync_time DATETIME NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_dp_risk_map_area_code ON dp_risk_map (area_code);
CREATE INDEX ix_dp_risk_map_company_code ON dp_risk_map (company_code);
